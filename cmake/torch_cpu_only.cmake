# libtorch from the CUDA wheel where no CUDA toolkit is installed (a fresh Debian 12, the CPU
# image). The wheel's TorchConfig.cmake cannot be used there: it includes Caffe2's
# public/cuda.cmake, which stops with FATAL_ERROR when find_package(CUDA) fails, even for a
# consumer that wants only the CPU half. This defines what dtbench takes from TorchConfig,
# for a CPU build: Torch_DIR, Torch_VERSION, TORCH_INCLUDE_DIRS and TORCH_LIBRARIES (an
# imported target over libtorch_cpu and libc10, which load the CUDA runtime libraries the
# wheel's own nvidia-* packages ship, not the toolkit). No torch_cuda target is defined, so
# every CUDA and NCCL part of dtbench stays off.
find_path(Torch_DIR TorchConfig.cmake PATHS ${CMAKE_PREFIX_PATH} PATH_SUFFIXES Torch NO_DEFAULT_PATH)
if(NOT Torch_DIR)
  message(FATAL_ERROR "libtorch not found under CMAKE_PREFIX_PATH (${CMAKE_PREFIX_PATH}): "
                      "pass torch.utils.cmake_prefix_path, as scripts/build.sh does")
endif()
get_filename_component(_dtbench_torch_prefix "${Torch_DIR}/../../.." ABSOLUTE)
file(STRINGS "${Torch_DIR}/TorchConfigVersion.cmake" _dtbench_torch_version REGEX "set\\(PACKAGE_VERSION ")
string(REGEX REPLACE ".*\"(.*)\".*" "\\1" Torch_VERSION "${_dtbench_torch_version}")
set(TORCH_INCLUDE_DIRS "${_dtbench_torch_prefix}/include" "${_dtbench_torch_prefix}/include/torch/csrc/api/include")
find_library(DTBENCH_TORCH_CPU_LIBRARY torch_cpu PATHS "${_dtbench_torch_prefix}/lib" NO_DEFAULT_PATH REQUIRED)
find_library(DTBENCH_C10_LIBRARY c10 PATHS "${_dtbench_torch_prefix}/lib" NO_DEFAULT_PATH REQUIRED)
add_library(dtbench_torch_cpu INTERFACE IMPORTED)
set_target_properties(dtbench_torch_cpu PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${TORCH_INCLUDE_DIRS}"
  INTERFACE_LINK_LIBRARIES "${DTBENCH_TORCH_CPU_LIBRARY};${DTBENCH_C10_LIBRARY}"
  INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=1")
set(TORCH_LIBRARIES dtbench_torch_cpu)
