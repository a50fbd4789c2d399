/* What the tinyqi harness needs from a board: one file per board in firmware/boards/<board>/. */
#ifndef TQ_BOARD_H
#define TQ_BOARD_H

#include <stddef.h>

/* Clock, regulator and console setup, once after reset. */
void tq_board_init(void);

/* Blocking write of `length` bytes to the board's console (its UART). */
void tq_board_console_write(const char *text, size_t length);

/* Stop the console before the harness idles in WFI, so the idle current is the datasheet sleep figure. */
void tq_board_console_finish(void);

#endif
