#include "addon/bindings.h"
namespace tce { void InitModel(Napi::Env, Napi::Object) {} }
