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

static void semihost_call(uint32_t operation, uint32_t argument) {
    register uint32_t r0 __asm__("r0") = operation;
    register uint32_t r1 __asm__("r1") = argument;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
}

void tq_output_line(const char *line) {
    tq_board_console_write(line, strlen(line));
    if (tq_debugger_attached()) {
        semihost_call(SEMIHOST_SYS_WRITE0, (uint32_t)(uintptr_t)line);
    }
}

void tq_output_finish(int success) {
    if (tq_debugger_attached()) {
        semihost_call(SEMIHOST_SYS_EXIT, success ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUN_TIME_ERROR_UNKNOWN);
    }
    tq_board_console_finish();
    for (;;) {
        __asm__ volatile("wfi");
    }
}
