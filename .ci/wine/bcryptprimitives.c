/*
 * bcryptprimitives.dll for wine 8.0, test use only.
 *
 * Rust's std (1.78 and later) gets its random numbers from
 * bcryptprimitives.dll!ProcessPrng, which wine 8.0 (Debian 12) lacks, so
 * every Rust .exe fails to load under it (status c0000135). Placed beside the
 * .exe, this DLL is found first and provides ProcessPrng on top of
 * RtlGenRandom (advapi32!SystemFunction036), which wine has. Real Windows
 * (10 and later) has its own ProcessPrng; this file never ships.
 *
 * Built by .ci/run: x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll
 *   bcryptprimitives.c bcryptprimitives.def -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* Fills data with len random bytes; like the real one, it never fails. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
