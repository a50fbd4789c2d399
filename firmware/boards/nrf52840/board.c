/* nRF52840 (nRF52840 DK): DC/DC regulator on, console on UARTE0 in EasyDMA mode.
 *
 * Register offsets: nRF52840 Product Specification, POWER and UARTE chapters. The CPU runs at 64 MHz from reset
 * (HFINT); UARTE0 requests its own clock, so the harness starts no oscillator. Every access below is listed in
 * docs/firmware.md, which is also the contract with the emulator. */
#include <stdint.h>
#include <string.h>

#include "tq_board.h"
#include "tq_cortex_m.h"

#define POWER_DCDCEN TQ_REG32(0x40000578u) /* 1: REG1 DC/DC on (the DK has the inductor) */

#define UARTE0_BASE 0x40002000u
#define UARTE0(offset) TQ_REG32(UARTE0_BASE + (offset))
#define UARTE_TASKS_STARTTX 0x008u
#define UARTE_TASKS_STOPTX 0x00Cu
#define UARTE_EVENTS_ENDTX 0x120u
#define UARTE_EVENTS_TXSTOPPED 0x158u
#define UARTE_ENABLE 0x500u
#define UARTE_PSEL_TXD 0x50Cu
#define UARTE_BAUDRATE 0x524u
#define UARTE_TXD_PTR 0x544u
#define UARTE_TXD_MAXCNT 0x548u
#define UARTE_CONFIG 0x56Cu

#define UARTE_ENABLE_UARTE 8u
#define UARTE_BAUD_115200 0x01D60000u
#define CONSOLE_TXD_PIN 6u /* P0.06: the DK's interface MCU virtual COM port */

/* Polls per byte before giving up on EVENTS_ENDTX: far above the ~5600 CPU cycles a byte takes at 115200 baud,
 * so a console without a receiver (or an emulator without UARTE) costs time, never a hang. */
#define ENDTX_POLLS_PER_BYTE 20000u
#define TXSTOPPED_POLLS 20000u

/* EasyDMA reads RAM only: lines are copied here before transmission. */
static uint8_t tx_buffer[128];

void tq_board_init(void) {
    POWER_DCDCEN = 1u;
    UARTE0(UARTE_PSEL_TXD) = CONSOLE_TXD_PIN;
    UARTE0(UARTE_BAUDRATE) = UARTE_BAUD_115200;
    UARTE0(UARTE_CONFIG) = 0u; /* 8N1, no flow control */
    UARTE0(UARTE_ENABLE) = UARTE_ENABLE_UARTE;
}

static void transmit_chunk(size_t length) {
    UARTE0(UARTE_EVENTS_ENDTX) = 0u;
    UARTE0(UARTE_TXD_PTR) = (uint32_t)(uintptr_t)tx_buffer;
    UARTE0(UARTE_TXD_MAXCNT) = (uint32_t)length;
    UARTE0(UARTE_TASKS_STARTTX) = 1u;
    for (uint32_t polls = ENDTX_POLLS_PER_BYTE * (uint32_t)length; polls > 0u; --polls) {
        if (UARTE0(UARTE_EVENTS_ENDTX) != 0u) {
            break;
        }
    }
    UARTE0(UARTE_EVENTS_ENDTX) = 0u;
}

void tq_board_console_write(const char *text, size_t length) {
    while (length > 0u) {
        size_t chunk = length < sizeof tx_buffer ? length : sizeof tx_buffer;
        memcpy(tx_buffer, text, chunk);
        transmit_chunk(chunk);
        text += chunk;
        length -= chunk;
    }
}

void tq_board_console_finish(void) {
    UARTE0(UARTE_EVENTS_TXSTOPPED) = 0u;
    UARTE0(UARTE_TASKS_STOPTX) = 1u;
    for (uint32_t polls = TXSTOPPED_POLLS; polls > 0u; --polls) {
        if (UARTE0(UARTE_EVENTS_TXSTOPPED) != 0u) {
            break;
        }
    }
    UARTE0(UARTE_ENABLE) = 0u;
}
