/* The C kernel built for CPUs with AVX2 and FMA (setup.py adds the flags). */
#include "_ckernel.c"
