/* Building one output line in a caller-owned buffer, without printf (no libc formatting in the image). */
#ifndef TQ_TEXT_H
#define TQ_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buffer;
    size_t capacity; /* bytes, including room for "\n" and the terminating NUL */
    size_t length;
} tq_text;

void tq_text_init(tq_text *text, char *buffer, size_t capacity);
void tq_text_str(tq_text *text, const char *string);
void tq_text_u64(tq_text *text, uint64_t value);
void tq_text_i32(tq_text *text, int32_t value);
void tq_text_hex32(tq_text *text, uint32_t value);
/* Ends the line with "\n" and NUL (a line too long for the buffer is cut, never overflowed). */
const char *tq_text_end_line(tq_text *text);

#endif
