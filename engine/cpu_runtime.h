// What the CPU side runs on, settled once at the start of every program (the tools, the tests,
// the benchmarks): the OpenBLAS kernel set and how idle OpenMP threads wait. Both are read by the
// libraries as they load, before main, so a program whose environment does not set them sets them
// and runs itself again, once; a user's own OPENBLAS_CORETYPE or OMP_WAIT_POLICY is kept.
//  - Kernels: OpenBLAS picks its kernels by CPU model and falls back to generic ones (`Prescott`,
//    SSE3) on models it does not know, which made matrix products 5-7x slower on a current Xeon;
//    on a Zen 5 EPYC it picks its AVX2 `Haswell` kernels. Where the CPU's features allow more,
//    the better set is used: `SkylakeX` with AVX-512 (F, BW, DQ, VL), `Haswell` with AVX2 and FMA
//    (docs/benchmarks.md: measured each way).
//  - Waiting: libgomp's idle threads spin before they sleep (300,000 rounds by default, forever
//    with OMP_WAIT_POLICY=ACTIVE); beside another busy process they take its cores, and two
//    training processes on 2 cores ran at 0.06-0.14x of one. Sleeping at once (PASSIVE) shares
//    well but made a process alone up to 2x slower (small networks: many short parallel regions,
//    each waking sleeping threads). The default here is a short spin, GOMP_SPINCOUNT=500:
//    docs/benchmarks.md has the measurements. A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept.
#pragma once
#include <string>

namespace mfd {

void configure_cpu_runtime(int argc, char** argv);

extern const char* const kSpinCount;  // GOMP_SPINCOUNT when the user sets no waiting policy

std::string blas_core();  // the OpenBLAS kernel set in use (openblas_get_corename)
std::string omp_waiting();  // "GOMP_SPINCOUNT=500", "OMP_WAIT_POLICY=ACTIVE", ...
// "" or a sentence saying that the OPENBLAS_CORETYPE a user set is weaker than the CPU allows.
std::string blas_note();
// The kernel set to ask for: `allowed` (what the CPU's features allow: "SkylakeX", "Haswell" or
// "") when it goes further than the one OpenBLAS `picked`, else "" (keep it).
std::string blas_core_to_use(const std::string& picked, const std::string& allowed);
std::string cpu_name();   // the CPU's model name, family and model number (/proc/cpuinfo)
// Whether the CPU has AVX-512 F, BW, DQ and VL (OpenBLAS's SkylakeX kernels, oneDNN's avx512_core).
bool cpu_has_avx512();

}  // namespace mfd
