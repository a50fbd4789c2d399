/* Vector table and reset handler shared by every tinyqi board (Armv7-M, Cortex-M4F).
 *
 * The harness enables no interrupt, so the table stops after the 16 system exceptions; every exception it can
 * take is a fault and goes to tq_fault_handler, which reports and stops. */

    .syntax unified
    .cpu cortex-m4
    .fpu fpv4-sp-d16
    .thumb

    .section .isr_vector, "a", %progbits
    .global tq_vector_table
    .type tq_vector_table, %object
tq_vector_table:
    .word __stack_top               /* initial MSP */
    .word tq_reset_handler          /* Reset */
    .word tq_fault_handler          /* NMI */
    .word tq_fault_handler          /* HardFault */
    .word tq_fault_handler          /* MemManage */
    .word tq_fault_handler          /* BusFault */
    .word tq_fault_handler          /* UsageFault */
    .word 0, 0, 0, 0                /* reserved */
    .word tq_fault_handler          /* SVCall */
    .word tq_fault_handler          /* DebugMonitor */
    .word 0                         /* reserved */
    .word tq_fault_handler          /* PendSV */
    .word tq_fault_handler          /* SysTick */
    .size tq_vector_table, . - tq_vector_table

    .section .text.tq_reset_handler, "ax", %progbits
    .global tq_reset_handler
    .type tq_reset_handler, %function
    .thumb_func
tq_reset_handler:
    /* Vector table base (flash may be aliased at 0 on some parts, so say where the table really is). */
    ldr r0, =0xE000ED08             /* SCB VTOR */
    ldr r1, =tq_vector_table
    str r1, [r0]
    /* Full access to CP10/CP11 before any C: the C code is compiled for the hard-float ABI. */
    ldr r0, =0xE000ED88             /* SCB CPACR */
    ldr r1, [r0]
    orr r1, r1, #(0xF << 20)
    str r1, [r0]
    dsb
    isb
    /* Copy the initialised data from flash. */
    ldr r0, =__data_start
    ldr r1, =__data_end
    ldr r2, =__data_load
1:  cmp r0, r1
    bhs 2f
    ldr r3, [r2], #4
    str r3, [r0], #4
    b 1b
    /* Zero the model arena and .bss (adjacent, see the linker script). */
2:  ldr r0, =__bss_start
    ldr r1, =__bss_end
    movs r3, #0
3:  cmp r0, r1
    bhs 4f
    str r3, [r0], #4
    b 3b
4:  bl main
5:  wfi
    b 5b
    .size tq_reset_handler, . - tq_reset_handler

    .section .text.tq_fault_handler, "ax", %progbits
    .global tq_fault_handler
    .type tq_fault_handler, %function
    .thumb_func
tq_fault_handler:
    /* r0 = the stacked exception frame (MSP or PSP, from EXC_RETURN bit 2). */
    tst lr, #4
    ite eq
    mrseq r0, msp
    mrsne r0, psp
    /* A semihosting BKPT that no debugger answered is stepped over and the harness goes on (console only). */
    push {r0, lr}
    bl tq_fault_skip_semihosting
    pop {r1, lr}
    cbz r0, 6f
    bx lr
    /* Anything else is reported: r0 = frame, r1 = EXC_RETURN, r2 = IPSR. */
6:  mov r0, r1
    mov r1, lr
    mrs r2, ipsr
    b tq_fault_report
    .size tq_fault_handler, . - tq_fault_handler
