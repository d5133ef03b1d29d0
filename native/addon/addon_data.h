// Per-environment state of the addon. Node-API gives an addon one instance-data slot per
// environment (main thread, each worker thread), so everything that must be per-environment
// lives in this one struct; binding files add members as they need them.
#pragma once

#include <napi.h>

namespace tce {

struct AddonData {
  Napi::FunctionReference tokenizer_constructor;
  Napi::FunctionReference text_buffer_constructor;

  // The environment's AddonData, created on first use (freed by Node-API with the environment).
  static AddonData& Of(Napi::Env env) {
    AddonData* data = env.GetInstanceData<AddonData>();
    if (data == nullptr) {
      data = new AddonData();
      env.SetInstanceData(data);
    }
    return *data;
  }
};

}  // namespace tce
