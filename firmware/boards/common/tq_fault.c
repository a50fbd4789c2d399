/* The fault path: tq_fault_handler (startup.S) lands here with the stacked frame; report one line and stop. */
#include <stdint.h>

#include "tq_cortex_m.h"
#include "tq_output.h"
#include "tq_text.h"

/* Exception frame words pushed by the core on entry (Armv7-M): r0-r3, r12, lr, pc, xPSR. */
#define FRAME_R0 0
#define FRAME_LR 5
#define FRAME_PC 6
#define HFSR_DEBUGEVT (1u << 31)
#define BKPT_SEMIHOSTING 0xBEABu

int tq_fault_skip_semihosting(uint32_t *frame);

/* With halting debug off (no debugger, or one that detached mid-run), BKPT escalates to HardFault with
 * HFSR.DEBUGEVT set. For the semihosting BKPT that only means nobody listens: resume after it, r0 = -1 (failure). */
int tq_fault_skip_semihosting(uint32_t *frame) {
    const uint16_t *instruction = (const uint16_t *)(uintptr_t)frame[FRAME_PC];
    if ((TQ_SCB_HFSR & HFSR_DEBUGEVT) == 0u || *instruction != BKPT_SEMIHOSTING) {
        return 0;
    }
    TQ_SCB_HFSR = HFSR_DEBUGEVT; /* write one to clear */
    frame[FRAME_PC] += 2u;
    frame[FRAME_R0] = 0xFFFFFFFFu;
    return 1;
}

void tq_fault_report(const uint32_t *frame, uint32_t exc_return, uint32_t ipsr) __attribute__((noreturn));

void tq_fault_report(const uint32_t *frame, uint32_t exc_return, uint32_t ipsr) {
    char buffer[160];
    tq_text text;
    tq_text_init(&text, buffer, sizeof buffer);
    tq_text_str(&text, "TQ_FAULT exception=");
    tq_text_u64(&text, ipsr & 0x1FFu);
    tq_text_str(&text, " pc=");
    tq_text_hex32(&text, frame[FRAME_PC]);
    tq_text_str(&text, " lr=");
    tq_text_hex32(&text, frame[FRAME_LR]);
    tq_text_str(&text, " exc_return=");
    tq_text_hex32(&text, exc_return);
    tq_text_str(&text, " cfsr=");
    tq_text_hex32(&text, TQ_SCB_CFSR);
    tq_text_str(&text, " hfsr=");
    tq_text_hex32(&text, TQ_SCB_HFSR);
    tq_text_str(&text, " bfar=");
    tq_text_hex32(&text, TQ_SCB_BFAR);
    tq_text_str(&text, " mmfar=");
    tq_text_hex32(&text, TQ_SCB_MMFAR);
    tq_output_line(tq_text_end_line(&text));
    tq_output_finish(0);
}
