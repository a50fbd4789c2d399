#include "tq_output.h"

#include <stdint.h>
#include <string.h>

#include "tq_board.h"
#include "tq_cortex_m.h"

/* Arm semihosting ("Semihosting for AArch32 and AArch64"): operation in r0, argument in r1, BKPT 0xAB on M-profile. */
#define SEMIHOST_SYS_WRITE0 0x04
#define SEMIHOST_SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN 0x20023u

#define SEMIHOST_UNANSWERED 0xFFFFFFFFu /* r0 set by tq_fault_skip_semihosting when nobody took the BKPT */

/* Semihosting is tried until one call comes back unanswered. DHCSR.C_DEBUGEN cannot decide it: QEMU answers
 * semihosting but reads DHCSR as 0. On a board without a debugger the first BKPT faults once, the fault handler
 * steps over it, and from then on the console alone is used: the same binary runs everywhere. */
static int semihosting_on = 1;

static void semihost(uint32_t operation, uint32_t argument) {
    if (!semihosting_on) {
        return;
    }
    register uint32_t r0 __asm__("r0") = operation;
    register uint32_t r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    if (r0 == SEMIHOST_UNANSWERED) {
        semihosting_on = 0;
    }
}

void tq_output_line(const char *line) {
    tq_board_console_write(line, strlen(line));
    semihost(SEMIHOST_SYS_WRITE0, (uint32_t)(uintptr_t)line);
}

void tq_output_finish(int success) {
    semihost(SEMIHOST_SYS_EXIT, success ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN);
    tq_board_console_finish();
    for (;;) {
        __asm__ volatile("wfi");
    }
}
