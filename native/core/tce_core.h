/*
 * The C API of the torch core (libtce_torch.so).
 *
 * This header is the whole contract between the N-API addon and the part that links libtorch:
 * plain C types only, so the addon never depends on libtorch's C++ ABI and one addon binary works
 * with every core built for every libtorch version. Bump TCE_CORE_ABI on any change here.
 */
#ifndef TCE_CORE_H
#define TCE_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The core is compiled with hidden visibility; only this API is exported. */
#define TCE_API __attribute__((visibility("default")))

#define TCE_CORE_ABI 2

/* Status codes returned by the functions that can fail. */
#define TCE_OK 0
#define TCE_ERROR 1
#define TCE_OUT_OF_MEMORY 2 /* device out of memory: the caller may retry with a smaller batch */

/* Precision of the forward pass. Activation and softmax always run in float32. */
#define TCE_PRECISION_FP32 0
#define TCE_PRECISION_FP16 1
#define TCE_PRECISION_BF16 2

/* Activation applied to the logits (in float32), before the optional softmax over labels. */
#define TCE_ACTIVATION_IDENTITY 0
#define TCE_ACTIVATION_SIGMOID 1
#define TCE_ACTIVATION_TANH 2
#define TCE_ACTIVATION_SOFTMAX 3

typedef struct tce_model tce_model;

/* ABI version of this header that the core was compiled with; the addon refuses a mismatch. */
TCE_API uint32_t tce_core_abi(void);
/* The libtorch version the core was compiled against ("1.13.0", "2.11.0"). */
TCE_API const char* tce_core_torch_version(void);

/* Number of CUDA devices libtorch can use (0 without CUDA). Never fails. */
TCE_API int tce_cuda_device_count(void);
/* Name and memory (bytes) of CUDA device `index`, read without creating a CUDA context (device
 * properties; free memory from NVML). `free_bytes` is UINT64_MAX when NVML cannot tell. */
TCE_API int tce_cuda_device_info(int index, char* name, size_t name_len, uint64_t* total_bytes,
                         uint64_t* free_bytes, char* err, size_t err_len);

/* Intra-op threads libtorch uses for CPU work. With OpenMP (Debian's build) this is the calling
 * thread's setting: call it on the thread that runs the forwards. */
TCE_API void tce_set_num_threads(int threads);
TCE_API int tce_get_num_threads(void);

/*
 * Loads a TorchScript module onto `device` ("cpu", "cuda", "cuda:1"), in eval mode.
 * Returns NULL and fills `err` on failure.
 */
TCE_API tce_model* tce_model_load(const char* path, const char* device, int precision, char* err,
                          size_t err_len);

/*
 * Runs the model on a padded int64 batch [batch, seq_len] held in host memory and writes
 * float32 scores [batch, *num_labels] row-major to `out` (capacity `out_capacity` floats).
 * Activation (and softmax over labels when `apply_softmax`) run in float32 on the device.
 * Must be called from one thread at a time per model; autocast is enabled on the calling thread.
 */
TCE_API int tce_model_forward(tce_model* model, const int64_t* input_ids, const int64_t* attention_mask,
                      const int64_t* token_type_ids, int64_t batch, int64_t seq_len,
                      int activation, int apply_softmax, float* out, int64_t out_capacity,
                      int64_t* num_labels, char* err, size_t err_len);

/* Releases the model. On CUDA its memory returns to libtorch's caching allocator, for reuse by
 * other models of the process; the cache as a whole is not emptied. */
TCE_API void tce_model_free(tce_model* model);

#ifdef __cplusplus
}
#endif

#endif /* TCE_CORE_H */
