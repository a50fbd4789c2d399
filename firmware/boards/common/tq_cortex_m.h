/* Armv7-M system registers the harness uses; the same on every Cortex-M4 (Armv7-M Architecture Reference Manual). */
#ifndef TQ_CORTEX_M_H
#define TQ_CORTEX_M_H

#include <stdint.h>

#define TQ_REG32(address) (*(volatile uint32_t *)(address))

#define TQ_SCB_CFSR   TQ_REG32(0xE000ED28u) /* configurable fault status */
#define TQ_SCB_HFSR   TQ_REG32(0xE000ED2Cu) /* HardFault status */
#define TQ_SCB_MMFAR  TQ_REG32(0xE000ED34u) /* MemManage fault address */
#define TQ_SCB_BFAR   TQ_REG32(0xE000ED38u) /* BusFault address */
#define TQ_DEMCR      TQ_REG32(0xE000EDFCu) /* debug exception and monitor control; bit 24 TRCENA */
#define TQ_DWT_CTRL   TQ_REG32(0xE0001000u) /* bit 0 CYCCNTENA */
#define TQ_DWT_CYCCNT TQ_REG32(0xE0001004u) /* core clock cycles since enabled, wraps at 2^32 */

#define TQ_DEMCR_TRCENA    (1u << 24)
#define TQ_DWT_CYCCNTENA   (1u << 0)

static inline void tq_cycles_enable(void) {
    TQ_DEMCR |= TQ_DEMCR_TRCENA;
    TQ_DWT_CYCCNT = 0u;
    TQ_DWT_CTRL |= TQ_DWT_CYCCNTENA;
}

static inline uint32_t tq_cycles_now(void) {
    return TQ_DWT_CYCCNT;
}

#endif
