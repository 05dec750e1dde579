// MFD_HD marks inline math that both backends compile: the CPU tests then cover what the GPU runs.
#pragma once
#if defined(__CUDACC__)
#define MFD_HD __host__ __device__ __forceinline__
#else
#define MFD_HD inline
#endif
