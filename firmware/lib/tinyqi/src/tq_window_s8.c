/* Padded input view shared by the int8 convolutions (SAME padding reads the input zero point). */
#include "tq_internal.h"

const int8_t *tq_window_source_s8(const tq_window_t *w, int8_t pad_value, const int8_t *batch_input,
                                  int8_t *scratch, int32_t *row_stride)
{
    const int32_t channels = w->input.c;
    if (!tq_window_needs_padding(w)) {
        *row_stride = w->input.w * channels;
        return batch_input;
    }
    const int32_t padded_h = tq_window_padded_h(w);
    const int32_t padded_w = tq_window_padded_w(w);
    const int32_t row_bytes = padded_w * channels;
    memset(scratch, pad_value, (size_t)(padded_h * row_bytes));
    /* Input pixels that land inside the padded extent; anything beyond is never read by a window. */
    const int32_t rows = w->input.h < padded_h - w->pad_top ? w->input.h : padded_h - w->pad_top;
    const int32_t cols = w->input.w < padded_w - w->pad_left ? w->input.w : padded_w - w->pad_left;
    for (int32_t y = 0; y < rows; ++y) {
        memcpy(scratch + (y + w->pad_top) * row_bytes + w->pad_left * channels,
               batch_input + y * w->input.w * channels, (size_t)(cols * channels));
    }
    *row_stride = row_bytes;
    return scratch;
}
