#include "tq_text.h"

void tq_text_init(tq_text *text, char *buffer, size_t capacity) {
    text->buffer = buffer;
    text->capacity = capacity;
    text->length = 0;
}

static void put_char(tq_text *text, char c) {
    if (text->length + 2u < text->capacity) { /* keep room for "\n" and NUL */
        text->buffer[text->length++] = c;
    }
}

void tq_text_str(tq_text *text, const char *string) {
    while (*string != '\0') {
        put_char(text, *string++);
    }
}

void tq_text_u64(tq_text *text, uint64_t value) {
    char digits[20];
    int count = 0;
    do {
        digits[count++] = (char)('0' + (int)(value % 10u));
        value /= 10u;
    } while (value != 0u);
    while (count > 0) {
        put_char(text, digits[--count]);
    }
}

void tq_text_i32(tq_text *text, int32_t value) {
    if (value < 0) {
        put_char(text, '-');
        tq_text_u64(text, (uint64_t)(-(int64_t)value));
    } else {
        tq_text_u64(text, (uint64_t)value);
    }
}

void tq_text_hex32(tq_text *text, uint32_t value) {
    static const char hex[] = "0123456789abcdef";
    tq_text_str(text, "0x");
    for (int shift = 28; shift >= 0; shift -= 4) {
        put_char(text, hex[(value >> shift) & 0xFu]);
    }
}

const char *tq_text_end_line(tq_text *text) {
    text->buffer[text->length++] = '\n';
    text->buffer[text->length] = '\0';
    return text->buffer;
}
