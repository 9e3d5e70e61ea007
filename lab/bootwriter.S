/* lab/bootwriter.S: the boot sector of scenario pr-libvirt's nested guest
 * (docs/lab.md), on LUN 2 at sector 0.  SeaBIOS boots it from the domain's
 * virtio disk; it takes a writer id (the word at sector 2, plus one, written
 * back) and then rewrites sector 1 every ~0.2 s with that id (16 bits at
 * byte 0) and a counter (32 bits at byte 2), through the BIOS (int 13h).
 * The host reads sector 1 of the LUN's file: a write of a superseded guest
 * would show its old id after the new owner's.  Failed writes are retried
 * (a fenced host's are refused by the storage).
 * Built by lab/run: as --32, ld -Ttext 0x7c00 --oformat binary. */
	.code16
	.text
	.globl _start
_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw $0x7c00, %sp
	sti
	movb %dl, drive
	/* the id: sector 2 (CHS 0/0/3) read into 0x8000, plus one, written back */
	movw $0x0201, %ax
	movw $0x0003, %cx
	xorb %dh, %dh
	movb drive, %dl
	movw $0x8000, %bx
	int $0x13
	incw 0x8000
	movw 0x8000, %ax
	movw %ax, 0x8200
	movw $0x0301, %ax
	movw $0x0003, %cx
	xorb %dh, %dh
	movb drive, %dl
	movw $0x8000, %bx
	int $0x13
again:
	incl 0x8202
	/* sector 1 (CHS 0/0/2) from 0x8200: id, counter */
	movw $0x0301, %ax
	movw $0x0002, %cx
	xorb %dh, %dh
	movb drive, %dl
	movw $0x8200, %bx
	int $0x13
	/* wait 200000 us (int 15h, ah 86h: CX:DX microseconds) */
	movb $0x86, %ah
	movw $0x0003, %cx
	movw $0x0d40, %dx
	int $0x15
	jmp again
drive:
	.byte 0
	.org 510
	.byte 0x55, 0xaa
