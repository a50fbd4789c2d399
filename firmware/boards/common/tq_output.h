/* Where harness lines go: the board console always, and Arm semihosting while a host answers it.
 *
 * The same binary runs on a board and under emulation: an emulator (or a debugger) answers BKPT 0xAB, reads each
 * line from SYS_WRITE0 and the verdict from SYS_EXIT; without one, semihosting stops after the first call
 * (docs/firmware.md). */
#ifndef TQ_OUTPUT_H
#define TQ_OUTPUT_H

/* `line` ends with "\n" and is NUL-terminated (tq_text_end_line). */
void tq_output_line(const char *line);

/* The run is over: report `success` to a debugger, else stop the console and sleep in WFI. Never returns. */
void tq_output_finish(int success) __attribute__((noreturn));

#endif
