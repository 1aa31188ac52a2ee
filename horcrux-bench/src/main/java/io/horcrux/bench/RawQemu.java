package io.horcrux.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * QEMU without Horcrux: the floor the benchmarks compare against. Spawns
 * {@code qemu-system-x86_64} the way a hand-written program would (daemonized, QMP on Unix
 * sockets), with the accelerator and CPU model the driver chose on this machine
 * ({@link Hypervisor#probed()}), and talks QMP over a bare blocking socket with no JSON library.
 */
final class RawQemu implements AutoCloseable {
    private final Path directory;
    private final long pid;

    private RawQemu(Path directory, long pid) {
        this.directory = directory;
        this.pid = pid;
    }

    /** Spawns QEMU with {@code monitors} QMP sockets and returns once the first answers. */
    static RawQemu spawn(Path directory, int monitors) {
        return spawn(directory, monitors, false);
    }

    /**
     * As {@link #spawn(Path, int)}; {@code frozen} starts the vCPUs stopped ({@code -S}), so that
     * a guest's firmware spinning under TCG does not take a core from what is measured.
     */
    static RawQemu spawn(Path directory, int monitors, boolean frozen) {
        return spawn(directory, monitors, frozen, "q35", 64, false);
    }

    /**
     * As {@link #spawn(Path, int, boolean)}, with the machine type and memory given; with
     * {@code toFile} the launcher's output goes to {@code qemu.log} rather than a pipe read to
     * its end.
     */
    static RawQemu spawn(Path directory, int monitors, boolean frozen, String machine, int memoryMiB, boolean toFile) {
        try {
            Files.createDirectories(directory);
            Hypervisor hypervisor = Hypervisor.probed(); // as the driver runs its VMs
            List<String> command = new ArrayList<>(List.of("qemu-system-x86_64",
                    "-machine", machine, "-accel", hypervisor.qemuAccel(), "-cpu", hypervisor.cpuModel(),
                    "-m", Integer.toString(memoryMiB), "-smp", "1",
                    "-nodefaults", "-no-user-config", "-display", "none",
                    "-pidfile", directory.resolve("qemu.pid").toString(), "-daemonize"));
            if (frozen) {
                command.add("-S");
            }
            for (int i = 0; i < monitors; i++) {
                command.add("-qmp");
                command.add("unix:" + socket(directory, i) + ",server=on,wait=off");
            }
            Process p;
            String output;
            if (toFile) {
                // No pipes: the launcher's output goes to a file, as the driver does it.
                Path log = directory.resolve("qemu.log");
                p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                int status = p.waitFor();
                output = status == 0 ? "" : Files.readString(log);
            } else {
                p = new ProcessBuilder(command).redirectErrorStream(true).start();
                output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            }
            if (p.waitFor() != 0) {
                throw new IllegalStateException("qemu failed: " + output);
            }
            long pid = Long.parseLong(Files.readString(directory.resolve("qemu.pid")).trim());
            RawQemu qemu = new RawQemu(directory, pid);
            try (Monitor m = qemu.monitor(0)) {
                m.roundTrip("{\"execute\":\"query-status\"}");
            }
            return qemu;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static Path socket(Path directory, int index) {
        return directory.resolve("qmp" + index + ".sock");
    }

    Path socket(int index) {
        return socket(directory, index);
    }

    /** A QMP connection past the greeting and capabilities negotiation. */
    Monitor monitor(int index) throws IOException {
        return new Monitor(socket(index));
    }

    /** Sends {@code quit} and returns once the process is gone (exited or a zombie). */
    void quit() throws IOException {
        try (Monitor m = monitor(0)) {
            m.send("{\"execute\":\"quit\"}");
            m.drainUntilClosed();
        }
        while (alive(pid)) {
            Thread.onSpinWait();
        }
    }

    static boolean alive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }

    /** Kills the process and returns once it is gone (exited or a zombie). */
    void closeAndAwait() {
        close();
        while (alive(pid)) {
            Thread.onSpinWait();
        }
    }

    /** A minimal QMP peer: blocking writes, reads up to the reply line. */
    static final class Monitor implements AutoCloseable {
        private final SocketChannel channel;
        private final ByteBuffer in = ByteBuffer.allocate(64 * 1024);
        private int lineStart;

        Monitor(Path socket) throws IOException {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            readLine(); // greeting
            roundTrip("{\"execute\":\"qmp_capabilities\"}");
        }

        /** Sends a command and returns its reply line, skipping events. */
        String roundTrip(String command) throws IOException {
            send(command);
            while (true) {
                String line = readLine();
                // QEMU writes an event's timestamp first: {"timestamp": ..., "event": ...}.
                if (!line.startsWith("{\"event\"") && !line.startsWith("{\"timestamp\"")) {
                    return line;
                }
            }
        }

        void send(String command) throws IOException {
            ByteBuffer out = ByteBuffer.wrap((command + "\n").getBytes(StandardCharsets.US_ASCII));
            while (out.hasRemaining()) {
                channel.write(out);
            }
        }

        /** Reads until QEMU closes the connection (an end of stream or, as it exits, a reset). */
        void drainUntilClosed() throws IOException {
            in.clear();
            try {
                while (channel.read(in) >= 0) {
                    in.clear();
                }
            } catch (java.net.SocketException closedByExit) {
                // QEMU exited with our bytes unread: the connection is reset rather than ended.
            }
        }

        private String readLine() throws IOException {
            while (true) {
                for (int i = lineStart; i < in.position(); i++) {
                    if (in.get(i) == '\n') {
                        String line = new String(in.array(), lineStart, i - lineStart, StandardCharsets.UTF_8);
                        lineStart = i + 1;
                        if (lineStart == in.position()) {
                            in.clear();
                            lineStart = 0;
                        }
                        return line;
                    }
                }
                if (channel.read(in) < 0) {
                    throw new IOException("monitor closed");
                }
            }
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }
}
