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

#define TCE_CORE_ABI 3

/* Status codes returned by the functions that can fail. */
#define TCE_OK 0
#define TCE_ERROR 1
#define TCE_OUT_OF_MEMORY 2 /* device out of memory: the caller may retry with a smaller batch */
#define TCE_OPTION_CONFLICT 3 /* the options conflict with those of another model of the process */

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
 * TF32 matmuls for CUDA float32 models. libtorch's switch (cuBLAS TF32) is process-wide, so every
 * CUDA fp32 model of the process must agree on it: a model claims its setting before it is loaded
 * and gives the claim back once it is freed (or its load failed). Claims for other models (CPU,
 * fp16, bf16) are accepted and change nothing. A claim that differs from the setting that other
 * claims hold fails with TCE_OPTION_CONFLICT. The switch is set at the load of a claiming model
 * and turned off when the last claim is given back. Neither function calls CUDA.
 */
TCE_API int tce_tf32_claim(const char* device, int precision, int tf32, char* err, size_t err_len);
TCE_API void tce_tf32_release(const char* device, int precision, int tf32);

/*
 * Loads a model file onto `device` ("cpu", "cuda", "cuda:1"): a TorchScript module (model.pt, in
 * eval mode) or, in cores built for libtorch 2.6 and later, an AOTInductor package (model.pt2;
 * told apart by its contents, not its name). Every zip entry of the file is checked against its
 * CRC first: a damaged file fails with a message "<path> is damaged: ...". The graph is fed the
 * inputs its metadata (model.pt) or call spec (model.pt2) names, a subset of the three arrays of
 * tce_model_submit. A CUDA fp32 model must hold a TF32 claim with the same `tf32`
 * (tce_tf32_claim). Returns NULL and fills `err` on failure.
 */
TCE_API tce_model* tce_model_load(const char* path, const char* device, int precision, int tf32,
                                  char* err, size_t err_len);

/*
 * Forwards in two steps, so that a model can have two batches in flight: slot 0 and slot 1.
 * All of a model's calls must come from one thread; autocast is enabled on that thread while a
 * forward is launched (CUDA) or run (CPU).
 *
 * tce_model_submit starts the forward of a padded int64 batch [batch, seq_len] held in host
 * memory, in `slot`, which must be free (never used, or collected or discarded since). The three
 * arrays must stay unchanged until that slot is collected or discarded. On CUDA it stages them
 * in the slot's page-locked memory, uploads them without blocking, launches the forward, the
 * activation and the copy of the float32 scores into the slot's page-locked output on the
 * model's stream, records the slot's event and returns without waiting for the device. On the
 * CPU it only takes note of the batch: the forward runs in tce_model_collect. On failure
 * (TCE_ERROR, TCE_OUT_OF_MEMORY) the slot stays free.
 *
 * tce_model_collect waits for the slot's forward (its event on CUDA; on the CPU it runs it) and
 * writes the scores [batch, *num_labels] row-major to `out` (capacity `out_capacity` floats).
 * Activation (and softmax over labels when `apply_softmax`) run in float32 on the device. Errors
 * of the forward can surface here as well as at submit; the slot is free again either way.
 *
 * tce_model_discard frees a submitted slot without reading its scores: on CUDA it waits for the
 * slot's work (its memory is reused by the next submit); on the CPU the forward never runs.
 * Discarding a free slot does nothing. Never fails.
 */
#define TCE_SLOTS 2
TCE_API int tce_model_submit(tce_model* model, int slot, const int64_t* input_ids,
                             const int64_t* attention_mask, const int64_t* token_type_ids,
                             int64_t batch, int64_t seq_len, int activation, int apply_softmax,
                             char* err, size_t err_len);
TCE_API int tce_model_collect(tce_model* model, int slot, float* out, int64_t out_capacity,
                              int64_t* num_labels, char* err, size_t err_len);
TCE_API void tce_model_discard(tce_model* model, int slot);

/* Releases the model, after waiting for any slot still in flight. On CUDA its device memory and
 * its page-locked buffers return to libtorch's caching allocators, for reuse by other models of
 * the process (the caches as a whole are not emptied); its events are destroyed. */
TCE_API void tce_model_free(tce_model* model);

#ifdef __cplusplus
}
#endif

#endif /* TCE_CORE_H */
