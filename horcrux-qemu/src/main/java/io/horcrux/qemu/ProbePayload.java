package io.horcrux.qemu;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The guest code the {@link HostProbe} runs to learn whether an accelerator and CPU model
 * really execute guest instructions on this host: a few hundred bytes of x86 machine code,
 * assembled here from the instructions below rather than shipped as an opaque binary.
 *
 * <p>QEMU loads it with {@code -kernel} as a Multiboot image (the "a.out kludge" header: a flat
 * binary with its load address in the header), so it runs on every machine type whose firmware
 * or loader understands Multiboot, Q35 (SeaBIOS) and microvm included. QEMU enters it in 32-bit
 * protected mode with paging off. The payload then does what a Linux kernel does first:
 * <ol>
 *   <li>builds identity-mapped page tables for the first 4 MiB (2 MiB pages), enables PAE,
 *       SSE ({@code CR4.OSFXSR}), {@code EFER.LME} and paging, loads a 64-bit GDT and jumps to
 *       long mode;</li>
 *   <li>reads CPUID leaf 1; when the CPU model offers {@code CMPXCHG16B} it runs a
 *       {@code lock cmpxchg16b}; when it offers {@code XSAVE} it sets {@code CR4.OSXSAVE},
 *       {@code XCR0} (x87 and SSE), and runs {@code xsave} and {@code xrstor};</li>
 *   <li>writes its result to QEMU's {@code isa-debug-exit} device (port {@value #DEBUG_EXIT_PORT}),
 *       which ends QEMU with exit status {@code (value << 1) | 1}.</li>
 * </ol>
 * The value written is {@value #RAN} plus {@value #RAN_CMPXCHG16B} and {@value #RAN_XSAVE} for
 * the instructions that ran, so the exit status tells both that the guest reached its end and
 * what it exercised. Any fault on the way (no long mode, an instruction the CPU model lacks)
 * triple-faults, which {@code -no-reboot} turns into a plain exit with status 0; a hypervisor
 * that cannot run an instruction stops the guest with an internal error instead. No
 * interrupt is ever enabled; the payload halts after writing its result.
 */
final class ProbePayload {
    /** The I/O port of QEMU's {@code isa-debug-exit} device by default. */
    static final int DEBUG_EXIT_PORT = 0x501;
    /** The value every successful run writes. */
    static final int RAN = 0x20;
    /** Added to {@link #RAN} when {@code lock cmpxchg16b} ran. */
    static final int RAN_CMPXCHG16B = 0x01;
    /** Added to {@link #RAN} when {@code xsave} and {@code xrstor} ran. */
    static final int RAN_XSAVE = 0x02;
    /** Memory the payload needs, in MiB: its page tables sit at 2 MiB. */
    static final int MEMORY_MIB = 16;

    private static final int LOAD_ADDRESS = 0x100000;
    private static final int PML4 = 0x200000;
    private static final int PDPT = 0x201000;
    private static final int PAGE_DIRECTORY = 0x202000;
    private static final int STACK_TOP = 0x1F0000;
    private static final int CMPXCHG_AREA = 0x1F8000;
    private static final int XSAVE_AREA = 0x1F9000;
    private static final int MULTIBOOT_MAGIC = 0x1BADB002;
    private static final int MULTIBOOT_ADDRESSES_GIVEN = 0x00010000;
    private static final int HEADER_BYTES = 32;
    private static final int CODE64_SELECTOR = 0x08;
    private static final int DATA64_SELECTOR = 0x10;

    private static final byte[] IMAGE = assemble();

    private ProbePayload() {
    }

    /** The Multiboot image; a fresh copy. */
    static byte[] image() {
        return IMAGE.clone();
    }

    /** The exit status QEMU ends with when the payload ran and wrote {@code value}. */
    static int exitStatus(int value) {
        return ((value << 1) | 1) & 0xFF;
    }

    /** Whether a QEMU exit status is one of a completed run, whatever the CPU model offered. */
    static boolean ranToTheEnd(int exitStatus) {
        for (int extras = 0; extras <= (RAN_CMPXCHG16B | RAN_XSAVE); extras++) {
            if (exitStatus == exitStatus(RAN | extras)) {
                return true;
            }
        }
        return false;
    }

    /** Writes the image to {@code file} (mode 0600), replacing what was there. */
    static Path writeTo(Path file) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(VmFiles.OWNER_ONLY_FILE));
        return Files.write(file, IMAGE);
    }

    private static byte[] assemble() {
        Code c = new Code(LOAD_ADDRESS);
        // Multiboot header: magic, flags, checksum, header/load/load-end/bss-end/entry addresses.
        c.dword(MULTIBOOT_MAGIC).dword(MULTIBOOT_ADDRESSES_GIVEN).dword(-(MULTIBOOT_MAGIC + MULTIBOOT_ADDRESSES_GIVEN));
        c.dword(LOAD_ADDRESS).dword(LOAD_ADDRESS).dword(0).dword(0).dword(LOAD_ADDRESS + HEADER_BYTES);

        // 32-bit protected mode, paging off.
        c.bytes(0xFA);                                             // cli
        c.bytes(0xBF).dword(PML4);                                 // mov edi, PML4
        c.bytes(0xB9).dword(3 * 4096 / 4);                         // mov ecx, three pages in dwords
        c.bytes(0x31, 0xC0);                                       // xor eax, eax
        c.bytes(0xF3, 0xAB);                                       // rep stosd
        c.movDwordToMemory(PML4, PDPT | 0x3);                      // PML4[0] -> PDPT, present + writable
        c.movDwordToMemory(PDPT, PAGE_DIRECTORY | 0x3);            // PDPT[0] -> page directory
        c.movDwordToMemory(PAGE_DIRECTORY, 0x000000 | 0x83);       // 2 MiB page at 0, present + writable + large
        c.movDwordToMemory(PAGE_DIRECTORY + 8, 0x200000 | 0x83);   // 2 MiB page at 2 MiB
        c.bytes(0x0F, 0x20, 0xE0);                                 // mov eax, cr4
        c.bytes(0x0D).dword(0x620);                                // or eax, PAE | OSFXSR | OSXMMEXCPT
        c.bytes(0x0F, 0x22, 0xE0);                                 // mov cr4, eax
        c.bytes(0xB8).dword(PML4);                                 // mov eax, PML4
        c.bytes(0x0F, 0x22, 0xD8);                                 // mov cr3, eax
        c.bytes(0xB9).dword(0xC0000080);                           // mov ecx, IA32_EFER
        c.bytes(0x0F, 0x32);                                       // rdmsr
        c.bytes(0x0D).dword(0x100);                                // or eax, LME
        c.bytes(0x0F, 0x30);                                       // wrmsr
        c.bytes(0x0F, 0x20, 0xC0);                                 // mov eax, cr0
        c.bytes(0x25).dword(~0x4);                                 // and eax, ~EM (no x87 emulation)
        c.bytes(0x0D).dword(0x80000003);                           // or eax, PG | MP | PE
        c.bytes(0x0F, 0x22, 0xC0);                                 // mov cr0, eax: long mode, 32-bit code segment
        int gdtPointer = c.bytes(0x0F, 0x01, 0x15).placeholder();  // lgdt [gdt pointer]
        int longModeEntry = c.bytes(0xEA).placeholder();           // jmp far CODE64:long mode entry
        c.bytes(CODE64_SELECTOR, 0x00);

        // 64-bit long mode.
        c.patch(longModeEntry, c.address());
        c.bytes(0x66, 0xB8).bytes(DATA64_SELECTOR, 0x00);          // mov ax, DATA64
        c.bytes(0x8E, 0xD8).bytes(0x8E, 0xC0).bytes(0x8E, 0xD0);   // mov ds, ax; mov es, ax; mov ss, ax
        c.bytes(0xBC).dword(STACK_TOP);                            // mov esp, STACK_TOP
        c.bytes(0xB8).dword(1);                                    // mov eax, 1
        c.bytes(0x0F, 0xA2);                                       // cpuid
        c.bytes(0x41, 0x89, 0xC8);                                 // mov r8d, ecx: the feature bits
        c.bytes(0x41, 0xBA).dword(RAN);                            // mov r10d, RAN: the result so far

        c.bytes(0x41, 0xF7, 0xC0).dword(1 << 13);                  // test r8d, CPUID.1:ECX.CX16
        int noCmpxchg16b = c.bytes(0x74).shortPlaceholder();       // jz past it
        c.bytes(0x31, 0xC0, 0x31, 0xD2, 0x31, 0xDB, 0x31, 0xC9);   // rax = rdx = rbx = rcx = 0
        c.bytes(0xF0, 0x48, 0x0F, 0xC7, 0x0C, 0x25).dword(CMPXCHG_AREA); // lock cmpxchg16b [CMPXCHG_AREA]
        c.bytes(0x41, 0x83, 0xCA, RAN_CMPXCHG16B);                 // or r10d, RAN_CMPXCHG16B
        c.patchShort(noCmpxchg16b);

        c.bytes(0x41, 0xF7, 0xC0).dword(1 << 26);                  // test r8d, CPUID.1:ECX.XSAVE
        int noXsave = c.bytes(0x74).shortPlaceholder();            // jz past it
        c.bytes(0x0F, 0x20, 0xE0);                                 // mov rax, cr4
        c.bytes(0x48, 0x0D).dword(1 << 18);                        // or rax, OSXSAVE
        c.bytes(0x0F, 0x22, 0xE0);                                 // mov cr4, rax
        c.bytes(0x31, 0xC9);                                       // xor ecx, ecx: XCR0
        c.bytes(0xB8).dword(0x3);                                  // mov eax, x87 | SSE
        c.bytes(0x31, 0xD2);                                       // xor edx, edx
        c.bytes(0x0F, 0x01, 0xD1);                                 // xsetbv
        c.bytes(0x0F, 0xAE, 0x24, 0x25).dword(XSAVE_AREA);         // xsave [XSAVE_AREA] (edx:eax = 3)
        c.bytes(0x0F, 0xAE, 0x2C, 0x25).dword(XSAVE_AREA);         // xrstor [XSAVE_AREA]
        c.bytes(0x41, 0x83, 0xCA, RAN_XSAVE);                      // or r10d, RAN_XSAVE
        c.patchShort(noXsave);

        c.bytes(0x66, 0xBA).bytes(DEBUG_EXIT_PORT & 0xFF, DEBUG_EXIT_PORT >>> 8); // mov dx, DEBUG_EXIT_PORT
        c.bytes(0x44, 0x89, 0xD0);                                 // mov eax, r10d
        c.bytes(0xEE);                                             // out dx, al: QEMU exits
        c.bytes(0xF4, 0xEB, 0xFD);                                 // hlt; jmp back to hlt

        // The GDT: null, 64-bit code (DPL 0), data; then its pointer for lgdt.
        c.align(8);
        int gdt = c.address();
        c.dword(0).dword(0);
        c.dword(0x0000FFFF).dword(0x00AF9A00);
        c.dword(0x0000FFFF).dword(0x00CF9200);
        c.patch(gdtPointer, c.address());
        c.bytes(3 * 8 - 1, 0x00).dword(gdt);
        return c.toByteArray();
    }

    /** Machine code under construction at a fixed load address, with forward references patched in. */
    private static final class Code {
        private final int origin;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final java.util.Map<Integer, int[]> patches = new java.util.HashMap<>();

        Code(int origin) {
            this.origin = origin;
        }

        Code bytes(int... values) {
            for (int value : values) {
                out.write(value);
            }
            return this;
        }

        Code dword(int value) {
            return bytes(value, value >>> 8, value >>> 16, value >>> 24);
        }

        /** {@code mov dword [address], value} */
        Code movDwordToMemory(int address, int value) {
            return bytes(0xC7, 0x05).dword(address).dword(value);
        }

        /** Four zero bytes to {@link #patch} later; returns their offset. */
        int placeholder() {
            int at = out.size();
            dword(0);
            return at;
        }

        /** One zero byte for the displacement of a short jump; returns its offset. */
        int shortPlaceholder() {
            int at = out.size();
            out.write(0);
            return at;
        }

        int address() {
            return origin + out.size();
        }

        void align(int boundary) {
            while (out.size() % boundary != 0) {
                out.write(0x90); // nop
            }
        }

        void patch(int offset, int value) {
            pending(offset, new int[] {value, value >>> 8, value >>> 16, value >>> 24});
        }

        /** Points the short jump whose displacement is at {@code offset} to here. */
        void patchShort(int offset) {
            int displacement = out.size() - (offset + 1);
            if (displacement > 127) {
                throw new IllegalStateException("short jump too far: " + displacement);
            }
            pending(offset, new int[] {displacement});
        }

        private void pending(int offset, int[] values) {
            patches.put(offset, values);
        }

        byte[] toByteArray() {
            byte[] patched = out.toByteArray();
            patches.forEach((offset, values) -> {
                for (int i = 0; i < values.length; i++) {
                    patched[offset + i] = (byte) values[i];
                }
            });
            return patched;
        }
    }
}
