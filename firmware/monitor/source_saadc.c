/* Live ECG on an nRF52840 board: the SAADC samples an analog front end at 360 Hz while the CPU sleeps.
 *
 *   RTC1 TICK (LFCLK 32768 Hz / (PRESCALER 90 + 1) = 360.088 Hz) --PPI ch 0--> SAADC SAMPLE
 *   SAADC END (ring full)                                         --PPI ch 1--> SAADC START (restart the ring)
 *   SAADC END (ring full)                                         -> SAADC IRQ pending -> wakes the CPU from WFI
 *
 * Hardware keeps the sample clock: a sample is taken and stored by EasyDMA even while the CPU sleeps or is busy with
 * a beat (the model, the console line), so samples wait in the ring and none is lost while fewer than RING_SLOTS
 * are waiting (RING_SLOTS / 360 s). The CPU wakes when the ring is full, drains every converted slot in order
 * (those EasyDMA writes meanwhile at the ring's start included), marks each EMPTY and sleeps again: one wake-up per
 * RING_SLOTS samples, not per sample (each wake-up costs the CPU's start-up at the run current; per sample they
 * were 15-18 % of the job's current). A beat comes out up to RING_SLOTS / 360 s = 178 ms later than with a wake-up per
 * sample. Interrupts stay masked (PRIMASK): a pending enabled IRQ still ends WFI (Armv7-M ARM, B1.5.19), so no
 * handler and no vector table entry are needed. 360.088 Hz is 0.024 % fast, far inside the chain's tolerance (an
 * RR interval of 1 s reads 0.24 ms long, a tenth of a sample).
 *
 * Register offsets and field values: Nordic MDK nrf52840.h / nrf52840_bitfields.h (nrfx); behaviour: nRF52840
 * Product Specification, SAADC, RTC, PPI and CLOCK chapters. Built by the nrf52840-monitor-saadc environment;
 * never run here (no board): docs/firmware.md says what was checked. */
#ifdef TQ_MONITOR_SAADC

#include "tq_cortex_m.h"
#include "tq_ecg.h"
#include "tq_monitor_source.h"

/* The front end: its output for 0 mV and its gain, in 12-bit SAADC counts (gain 1/6, internal 0.6 V reference:
 * 0..3.6 V in 4096 counts). Defaults: an AFE with a total gain of 500 biased at 1.5 V, i.e. +-3 mV of ECG over the
 * SAADC's range. Override with -D for another front end. */
#ifndef TQ_SAADC_ZERO_COUNTS
#define TQ_SAADC_ZERO_COUNTS 1707
#endif
#ifndef TQ_SAADC_COUNTS_PER_MV
#define TQ_SAADC_COUNTS_PER_MV 569
#endif
#ifndef TQ_SAADC_AIN
#define TQ_SAADC_AIN 0 /* AIN0 = P0.02 */
#endif
#define CHAIN_COUNTS_PER_MV 200 /* the chain's input scale (MIT-BIH; tinyqi.signal.ecg.COUNTS_PER_MV) */
/* SAADC counts to chain counts as a Q15 factor. */
#define SCALE_Q15 ((CHAIN_COUNTS_PER_MV * 32768 + TQ_SAADC_COUNTS_PER_MV / 2) / TQ_SAADC_COUNTS_PER_MV)
#define SAADC_FULL_SCALE 4095 /* a reading at either rail: lead off or saturation, not ECG */

#define RING_SLOTS 64u
#define EMPTY ((int16_t)-32768) /* a 12-bit single-ended result never reads this */

#define CLOCK_TASKS_LFCLKSTART TQ_REG32(0x40000008u)
#define CLOCK_EVENTS_LFCLKSTARTED TQ_REG32(0x40000104u)
#define CLOCK_LFCLKSRC TQ_REG32(0x40000518u)
#define CLOCK_LFCLKSRC_XTAL 1u /* the DK's 32.768 kHz crystal */

#define SAADC_BASE 0x40007000u
#define SAADC_TASKS_START (SAADC_BASE + 0x000u)
#define SAADC_TASKS_SAMPLE (SAADC_BASE + 0x004u)
#define SAADC_TASKS_CALIBRATEOFFSET TQ_REG32(SAADC_BASE + 0x00Cu)
#define SAADC_EVENTS_STARTED TQ_REG32(SAADC_BASE + 0x100u)
#define SAADC_EVENTS_END (SAADC_BASE + 0x104u)
#define SAADC_EVENTS_CALIBRATEDONE TQ_REG32(SAADC_BASE + 0x110u)
#define SAADC_INTENSET TQ_REG32(SAADC_BASE + 0x304u)
#define SAADC_ENABLE TQ_REG32(SAADC_BASE + 0x500u)
#define SAADC_CH0_PSELP TQ_REG32(SAADC_BASE + 0x510u)
#define SAADC_CH0_PSELN TQ_REG32(SAADC_BASE + 0x514u)
#define SAADC_CH0_CONFIG TQ_REG32(SAADC_BASE + 0x518u)
#define SAADC_RESOLUTION TQ_REG32(SAADC_BASE + 0x5F0u)
#define SAADC_OVERSAMPLE TQ_REG32(SAADC_BASE + 0x5F4u)
#define SAADC_SAMPLERATE TQ_REG32(SAADC_BASE + 0x5F8u)
#define SAADC_RESULT_PTR TQ_REG32(SAADC_BASE + 0x62Cu)
#define SAADC_RESULT_MAXCNT TQ_REG32(SAADC_BASE + 0x630u)
#define SAADC_INTEN_END (1u << 1)
#define SAADC_RESOLUTION_12BIT 2u
#define SAADC_TACQ_10US 2u
/* CH[0].CONFIG: RESP/RESN bypass, gain 1/6 (0), internal 0.6 V reference (0), TACQ 10 us, single ended, no burst. */
#define SAADC_CH_CONFIG (SAADC_TACQ_10US << 16)
#define SAADC_IRQ 7u

#define RTC1_BASE 0x40011000u
#define RTC1_TASKS_START TQ_REG32(RTC1_BASE + 0x000u)
#define RTC1_EVENTS_TICK (RTC1_BASE + 0x100u)
#define RTC1_EVTENSET TQ_REG32(RTC1_BASE + 0x344u)
#define RTC1_PRESCALER TQ_REG32(RTC1_BASE + 0x508u)
#define RTC_EVTEN_TICK (1u << 0)
#define RTC_PRESCALER_360HZ 90u /* 32768 / 91 = 360.088 Hz */

#define PPI_CHENSET TQ_REG32(0x4001F504u)
#define PPI_CH_EEP(n) TQ_REG32(0x4001F510u + 8u * (n))
#define PPI_CH_TEP(n) TQ_REG32(0x4001F514u + 8u * (n))

#define NVIC_ISER0 TQ_REG32(0xE000E100u)
#define NVIC_ICPR0 TQ_REG32(0xE000E280u)

static volatile int16_t ring[RING_SLOTS]; /* EasyDMA writes here; the CPU reads and marks EMPTY */
static uint32_t next_slot;

static void start_low_frequency_clock(void) {
    /* The LFXO takes about a quarter of a second to start; a board without the crystal must use LFRC (0). */
    CLOCK_LFCLKSRC = CLOCK_LFCLKSRC_XTAL;
    CLOCK_EVENTS_LFCLKSTARTED = 0u;
    CLOCK_TASKS_LFCLKSTART = 1u;
    while (CLOCK_EVENTS_LFCLKSTARTED == 0u) {
    }
}

static void configure_saadc(void) {
    for (uint32_t slot = 0; slot < RING_SLOTS; ++slot) {
        ring[slot] = EMPTY;
    }
    SAADC_RESOLUTION = SAADC_RESOLUTION_12BIT;
    SAADC_OVERSAMPLE = 0u;
    SAADC_SAMPLERATE = 0u; /* sampling paced by the SAMPLE task, i.e. by the RTC through PPI */
    SAADC_CH0_PSELP = TQ_SAADC_AIN + 1u;
    SAADC_CH0_PSELN = 0u;
    SAADC_CH0_CONFIG = SAADC_CH_CONFIG;
    SAADC_RESULT_PTR = (uint32_t)(uintptr_t)ring;
    SAADC_RESULT_MAXCNT = RING_SLOTS;
    SAADC_ENABLE = 1u;
    SAADC_EVENTS_CALIBRATEDONE = 0u;
    SAADC_TASKS_CALIBRATEOFFSET = 1u; /* the PS recommends an offset calibration before sampling */
    while (SAADC_EVENTS_CALIBRATEDONE == 0u) {
    }
    SAADC_EVENTS_STARTED = 0u;
    TQ_REG32(SAADC_TASKS_START) = 1u;
    while (SAADC_EVENTS_STARTED == 0u) {
    }
}

static void connect_ppi(void) {
    PPI_CH_EEP(0) = RTC1_EVENTS_TICK;
    PPI_CH_TEP(0) = SAADC_TASKS_SAMPLE;
    PPI_CH_EEP(1) = SAADC_EVENTS_END;
    PPI_CH_TEP(1) = SAADC_TASKS_START;
    PPI_CHENSET = (1u << 0) | (1u << 1);
}

static void enable_wake_up(void) {
    __asm__ volatile("cpsid i" ::: "memory"); /* pending IRQs wake WFI but run no handler */
    TQ_REG32(SAADC_EVENTS_END) = 0u;
    SAADC_INTENSET = SAADC_INTEN_END;
    NVIC_ICPR0 = 1u << SAADC_IRQ;
    NVIC_ISER0 = 1u << SAADC_IRQ;
}

static void start_sample_clock(void) {
    RTC1_PRESCALER = RTC_PRESCALER_360HZ;
    RTC1_EVTENSET = RTC_EVTEN_TICK;
    RTC1_TASKS_START = 1u;
}

int tq_source_begin(tq_source_record_t *record) {
    static int started;
    if (started) {
        return 0; /* unreachable: the live record never ends */
    }
    started = 1;
    start_low_frequency_clock();
    configure_saadc();
    connect_ppi();
    enable_wake_up();
    start_sample_clock();
    record->name = "saadc";
    record->samples = 0u;
    return 1;
}

/* SAADC counts -> the chain's input scale; a railed reading is no ECG (lead off, saturation). */
static int16_t chain_sample(int32_t counts) {
    if (counts <= 0 || counts >= SAADC_FULL_SCALE) {
        return TQ_ECG_INVALID;
    }
    int32_t scaled = ((counts - TQ_SAADC_ZERO_COUNTS) * SCALE_Q15 + (1 << 14)) >> 15;
    return (int16_t)scaled; /* |counts - zero| < 4096 and SCALE_Q15 < 32768: no overflow, no saturation */
}

int tq_source_sample(int16_t *sample) {
    for (;;) {
        int16_t counts = ring[next_slot];
        if (counts != EMPTY) {
            ring[next_slot] = EMPTY;
            next_slot = (next_slot + 1u) % RING_SLOTS;
            *sample = chain_sample(counts);
            return 1;
        }
        /* Clear the wake-up source before looking again, so a ring filled in between still ends the WFI. */
        TQ_REG32(SAADC_EVENTS_END) = 0u;
        NVIC_ICPR0 = 1u << SAADC_IRQ;
        if (ring[next_slot] == EMPTY) {
            __asm__ volatile("dsb\n\twfi" ::: "memory");
        }
    }
}

#endif
