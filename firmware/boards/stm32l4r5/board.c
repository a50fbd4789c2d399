/* STM32L4R5ZI (NUCLEO-L4R5ZI): 120 MHz from the PLL on HSI16, console on LPUART1 (PG7, ST-LINK virtual COM port).
 *
 * Register addresses and fields: ST RM0432 (STM32L4+ reference manual), cross-checked against the stm32-rs
 * register tables. Not run on hardware by the tinyqi authors: see docs/firmware.md. */
#include <stdint.h>

#include "tq_board.h"
#include "tq_cortex_m.h"

#define RCC_CR TQ_REG32(0x40021000u)
#define RCC_CFGR TQ_REG32(0x40021008u)
#define RCC_PLLCFGR TQ_REG32(0x4002100Cu)
#define RCC_AHB2ENR TQ_REG32(0x4002104Cu)
#define RCC_APB1ENR1 TQ_REG32(0x40021058u)
#define RCC_APB1ENR2 TQ_REG32(0x4002105Cu)
#define PWR_CR2 TQ_REG32(0x40007004u)
#define PWR_SR2 TQ_REG32(0x40007014u)
#define PWR_CR5 TQ_REG32(0x40007080u)
#define FLASH_ACR TQ_REG32(0x40022000u)
#define GPIOG_MODER TQ_REG32(0x48001800u)
#define GPIOG_AFRL TQ_REG32(0x48001820u)
#define LPUART1_CR1 TQ_REG32(0x40008000u)
#define LPUART1_BRR TQ_REG32(0x4000800Cu)
#define LPUART1_ISR TQ_REG32(0x4000801Cu)
#define LPUART1_TDR TQ_REG32(0x40008028u)

#define RCC_CR_HSION (1u << 8)
#define RCC_CR_HSIRDY (1u << 10)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_PLL 3u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (3u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_CFGR_HPRE_DIV2 (0x8u << 4)
#define RCC_AHB2ENR_GPIOGEN (1u << 6)
#define RCC_APB1ENR1_PWREN (1u << 28)
#define RCC_APB1ENR2_LPUART1EN (1u << 0)
#define PWR_CR2_IOSV (1u << 9) /* PG2..PG15 are powered from VDDIO2: declare it valid */
#define PWR_SR2_VOSF (1u << 10)
#define PWR_CR5_R1MODE (1u << 8) /* 0: range 1 boost, needed above 80 MHz */
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define LPUART_CR1_UE (1u << 0)
#define LPUART_CR1_TE (1u << 3)
#define LPUART_ISR_TC (1u << 6)
#define LPUART_ISR_TXE (1u << 7)

/* 120 MHz = HSI16 / M 2 * N 30 / R 2 (VCO 240 MHz); 5 flash wait states in range 1 boost (RM0432 wait-state table). */
#define PLL_SOURCE_HSI16 2u
#define PLL_M 2u
#define PLL_N 30u
#define FLASH_WAIT_STATES 5u
#define CONSOLE_BAUD 115200u
#define CONSOLE_TX_PIN 7u
#define CONSOLE_TX_AF 8u

/* Bounded waits: a part that never reports ready must not hang the harness silently forever. */
#define READY_POLLS 1000000u

static void wait_set(volatile uint32_t *reg, uint32_t mask, uint32_t value) {
    for (uint32_t polls = READY_POLLS; polls > 0u && (*reg & mask) != value; --polls) {
    }
}

static void clock_120mhz(void) {
    RCC_APB1ENR1 |= RCC_APB1ENR1_PWREN;
    (void)RCC_APB1ENR1; /* the enable takes effect after a read-back */
    PWR_CR5 &= ~PWR_CR5_R1MODE;
    wait_set(&PWR_SR2, PWR_SR2_VOSF, 0u);
    FLASH_ACR = FLASH_WAIT_STATES | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    wait_set(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, FLASH_WAIT_STATES);
    RCC_CR |= RCC_CR_HSION;
    wait_set(&RCC_CR, RCC_CR_HSIRDY, RCC_CR_HSIRDY);
    RCC_PLLCFGR = PLL_SOURCE_HSI16 | ((PLL_M - 1u) << 4) | (PLL_N << 8) | (1u << 24); /* PLLR /2, PLLREN */
    RCC_CR |= RCC_CR_PLLON;
    wait_set(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY);
    /* Above 80 MHz, switch through AHB /2 for at least 1 us (RM0432 boost-mode sequence). */
    RCC_CFGR = (RCC_CFGR & ~(RCC_CFGR_HPRE_MASK | 3u)) | RCC_CFGR_HPRE_DIV2 | RCC_CFGR_SW_PLL;
    wait_set(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL);
    for (volatile uint32_t delay = 0u; delay < 200u; ++delay) {
    }
    RCC_CFGR &= ~RCC_CFGR_HPRE_MASK;
}

static void console_init(void) {
    PWR_CR2 |= PWR_CR2_IOSV;
    RCC_AHB2ENR |= RCC_AHB2ENR_GPIOGEN;
    RCC_APB1ENR2 |= RCC_APB1ENR2_LPUART1EN;
    (void)RCC_APB1ENR2;
    GPIOG_MODER = (GPIOG_MODER & ~(3u << (2u * CONSOLE_TX_PIN))) | (2u << (2u * CONSOLE_TX_PIN));
    GPIOG_AFRL = (GPIOG_AFRL & ~(0xFu << (4u * CONSOLE_TX_PIN))) | (CONSOLE_TX_AF << (4u * CONSOLE_TX_PIN));
    /* LPUART kernel clock = PCLK1 = 120 MHz (reset selection); BRR = 256 * f / baud, rounded. */
    LPUART1_BRR = (uint32_t)((256ull * TQ_BOARD_CLOCK_HZ + CONSOLE_BAUD / 2u) / CONSOLE_BAUD);
    LPUART1_CR1 = LPUART_CR1_TE | LPUART_CR1_UE;
}

void tq_board_init(void) {
    clock_120mhz();
    console_init();
}

void tq_board_console_write(const char *text, size_t length) {
    for (size_t i = 0; i < length; ++i) {
        wait_set(&LPUART1_ISR, LPUART_ISR_TXE, LPUART_ISR_TXE);
        LPUART1_TDR = (uint8_t)text[i];
    }
}

void tq_board_console_finish(void) {
    wait_set(&LPUART1_ISR, LPUART_ISR_TC, LPUART_ISR_TC);
    LPUART1_CR1 = 0u;
}
