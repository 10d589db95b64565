/* The C kernel built for CPUs with AVX2 and FMA (setup.py adds the flags). */
#define ND_MODULE _ckernel_avx2
#include "_ckernel.c"
