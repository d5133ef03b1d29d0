# Checks and facts about the libtorch found by find_package(Torch), for CMakeLists.txt.

# Fails unless every torch library the core could link lies in `lib_dir` (the libtorch chosen
# by scripts/build-core.mjs); default: the found libtorch's own lib/ folder.
function(tce_check_torch_libraries lib_dir)
  if(NOT lib_dir)
    set(lib_dir "${TORCH_INSTALL_PREFIX}/lib")
  endif()
  get_filename_component(want "${lib_dir}" REALPATH)
  set(files "")
  foreach(target IN ITEMS torch torch_cpu torch_cuda c10 c10_cuda)
    if(TARGET ${target})
      get_target_property(location ${target} LOCATION)
      list(APPEND files "${location}")
    endif()
  endforeach()
  foreach(variable IN ITEMS TORCH_LIBRARY c10_LIBRARY C10_CUDA_LIBRARY kineto_LIBRARY)
    if(${variable})
      list(APPEND files "${${variable}}")
    endif()
  endforeach()
  set(outside "")
  foreach(file IN LISTS files)
    get_filename_component(real "${file}" REALPATH)
    get_filename_component(dir "${real}" DIRECTORY)
    if(NOT dir STREQUAL want)
      list(APPEND outside "${file}")
    endif()
  endforeach()
  if(outside)
    list(JOIN outside "\n  " text)
    message(FATAL_ERROR
      "torch-cross-encoder: building for the libtorch in ${want}, but CMake found torch "
      "libraries elsewhere:\n  ${text}\nA core linked to two libtorches crashes. Delete this "
      "build folder and build again with CMAKE_PREFIX_PATH set to that libtorch's root only "
      "(npm run build:core does this).")
  endif()
endfunction()

# The C++ standard libtorch's headers need: TorchConfig sets it as the CXX_STANDARD of its
# imported torch target (14 in 1.13, 17 in 2.x, 20 from 2.14), which does not propagate to
# targets that link it. At least 17, which the core's own code uses.
function(tce_torch_cxx_standard out)
  set(standard 17)
  if(TARGET torch)
    get_target_property(torch_standard torch CXX_STANDARD)
    if(torch_standard AND torch_standard GREATER standard)
      set(standard ${torch_standard})
    endif()
  endif()
  set(${out} ${standard} PARENT_SCOPE)
endfunction()

# Writes core.json beside the built core: what it was built for, read by lib/core.ts before the
# core is loaded. Fields:
#   torchVersion  "2.14.1"       libtorch's major.minor.patch
#   flavour       "cpu", "cu13"  CPU build, or CUDA build with the libtorch's CUDA major version
#   cxx11Abi      0 or 1         libstdc++'s _GLIBCXX_USE_CXX11_ABI that libtorch was built with
#   abi           N              TCE_CORE_ABI of native/core/tce_core.h (the C API version)
function(tce_write_core_manifest target cuda)
  string(REGEX MATCH "^[0-9]+\\.[0-9]+\\.[0-9]+" torch_version "${Torch_VERSION}")
  if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=0")
    set(cxx11_abi 0)
  else()
    set(cxx11_abi 1)
  endif()
  set(flavour cpu)
  if(cuda)
    if(TCE_TORCH_CUDA_VERSION)
      string(REGEX MATCH "^[0-9]+" cuda_major "${TCE_TORCH_CUDA_VERSION}")
    else()
      set(cuda_major "${CUDAToolkit_VERSION_MAJOR}")
    endif()
    set(flavour "cu${cuda_major}")
  endif()
  # A change of the header's ABI number re-runs this configure step, so core.json follows it.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/native/core/tce_core.h")
  file(STRINGS "${CMAKE_CURRENT_SOURCE_DIR}/native/core/tce_core.h" abi_line REGEX "^#define TCE_CORE_ABI [0-9]+")
  string(REGEX MATCH "[0-9]+$" core_abi "${abi_line}")
  file(GENERATE OUTPUT "${CMAKE_BINARY_DIR}/core.json" CONTENT
    "{\"torchVersion\": \"${torch_version}\", \"flavour\": \"${flavour}\", \"cxx11Abi\": ${cxx11_abi}, \"abi\": ${core_abi}}\n")
  # Copied on every build, not only when the core relinks: a manifest must never lag its core.
  add_custom_target(${target}_manifest ALL
    COMMAND ${CMAKE_COMMAND} -E copy_if_different "${CMAKE_BINARY_DIR}/core.json" "$<TARGET_FILE_DIR:${target}>/core.json"
    DEPENDS ${target}
    COMMENT "core.json beside the core")
endfunction()

# A CUDA core must be compiled by a toolkit of the libtorch's CUDA major version: CUDA's runtime
# API is versioned by major, and libtorch's CUDA headers assume theirs.
function(tce_check_cuda_version)
  if(NOT TCE_TORCH_CUDA_VERSION OR NOT CUDAToolkit_VERSION_MAJOR)
    return()
  endif()
  string(REGEX MATCH "^[0-9]+" torch_major "${TCE_TORCH_CUDA_VERSION}")
  if(NOT torch_major STREQUAL CUDAToolkit_VERSION_MAJOR)
    message(FATAL_ERROR
      "torch-cross-encoder: this libtorch was built with CUDA ${TCE_TORCH_CUDA_VERSION}, but the "
      "CUDA toolkit found (${CUDAToolkit_BIN_DIR}) is ${CUDAToolkit_VERSION}. Install a CUDA "
      "${torch_major}.x toolkit and put its nvcc first on PATH (or set CUDA_HOME).")
  endif()
endfunction()

# AOTInductor packages (.pt2) load through torch::inductor::AOTIModelPackageLoader, in libtorch
# 2.6 and later. Defines, on `target`:
#   TCE_WITH_AOTI=1                     the loader's header is there
#   TCE_AOTI_METADATA_FROM_PACKAGE=1/0  it can read a package's metadata before loading its code
#   TCE_AOTI_DEVICE_INDEX=1/0           its constructor takes the CUDA device index
# The features are read from the header itself, so that no version table has to be kept here; the
# loader is used only from libtorch 2.6 on (Torch_VERSION), where its API is the one aoti_runner.cc
# calls (earlier builds shipped a header of the same name with another interface).
function(tce_aoti_definitions target)
  if(NOT Torch_VERSION OR Torch_VERSION VERSION_LESS 2.6)
    message(STATUS "torch-cross-encoder: libtorch ${Torch_VERSION} is older than 2.6: the core refuses .pt2 models")
    return()
  endif()
  set(header "")
  foreach(dir IN LISTS TORCH_INCLUDE_DIRS)
    if(EXISTS "${dir}/torch/csrc/inductor/aoti_package/model_package_loader.h")
      set(header "${dir}/torch/csrc/inductor/aoti_package/model_package_loader.h")
      break()
    endif()
  endforeach()
  if(NOT header)
    message(STATUS "torch-cross-encoder: this libtorch has no AOTInductor package loader: the core refuses .pt2 models")
    return()
  endif()
  file(READ "${header}" text)
  set(metadata 0)
  if(text MATCHES "load_metadata_from_package")
    set(metadata 1)
  endif()
  set(device_index 0)
  if(text MATCHES "device_index")
    set(device_index 1)
  endif()
  message(STATUS "torch-cross-encoder: AOTInductor packages (.pt2) supported")
  target_compile_definitions(${target} PRIVATE TCE_WITH_AOTI=1
    TCE_AOTI_METADATA_FROM_PACKAGE=${metadata} TCE_AOTI_DEVICE_INDEX=${device_index})
endfunction()
