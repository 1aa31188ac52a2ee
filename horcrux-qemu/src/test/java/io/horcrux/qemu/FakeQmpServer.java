package io.horcrux.qemu;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A fault injector speaking just enough QMP to misbehave on purpose: it greets, answers
 * {@code qmp_capabilities}, and hands every later command line to a script that decides what
 * bytes to send back. Not a stand-in for QEMU: the real-process tests use QEMU.
 */
final class FakeQmpServer implements AutoCloseable {
    static final String GREETING = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\n";
    /** The {@code id} member's value as JSON text: a string or a number. */
    private static final Pattern ID = Pattern.compile("\"id\"\\s*:\\s*(\"[^\"]*\"|-?[0-9]+)");
    private static final Pattern EXECUTE = Pattern.compile("\"execute\"\\s*:\\s*\"([^\"]+)\"");

    /** Decides the reply to one command: (command line, connection) -> writes whatever it likes. */
    interface Script extends BiConsumer<Command, Connection> {
    }

    /** One command line; {@code id} is its {@code id} as JSON text, empty when it had none. */
    record Command(String line, String execute, String id) {
        /** What a reply to it carries: {@code , "id": <id>}, or nothing, as QEMU does. */
        String idMember() {
            return id.isEmpty() ? "" : ", \"id\": " + id;
        }
    }

    static final class Connection {
        private final SocketChannel channel;
        private final OutputStream out;

        Connection(SocketChannel channel) {
            this.channel = channel;
            this.out = Channels.newOutputStream(channel);
        }

        void send(String text) {
            try {
                out.write(text.getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        void sendBytes(byte[] bytes) {
            try {
                out.write(bytes);
                out.flush();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        void reply(Command c, String returnJson) {
            send("{\"return\": " + returnJson + c.idMember() + "}\n");
        }

        void event(String name) {
            send("{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, \"event\": \"" + name + "\"}\n");
        }

        void drop() {
            try {
                channel.close();
            } catch (IOException ignored) {
                // already closed
            }
        }
    }

    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread thread;
    private final List<String> received = new CopyOnWriteArrayList<>();
    private final List<SocketChannel> clients = new CopyOnWriteArrayList<>();

    FakeQmpServer(Path socket, String greeting, Script script) throws IOException {
        this.socket = socket;
        Files.deleteIfExists(socket);
        this.server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        this.thread = new Thread(() -> serve(greeting, script), "fake-qmp-server");
        thread.setDaemon(true);
        thread.start();
    }

    FakeQmpServer(Path socket, Script script) throws IOException {
        this(socket, GREETING, script);
    }

    Path socket() {
        return socket;
    }

    List<String> received() {
        return received;
    }

    private void serve(String greeting, Script script) {
        try (SocketChannel channel = server.accept()) {
            clients.add(channel);
            Connection connection = new Connection(channel);
            connection.send(greeting);
            BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                received.add(line);
                Matcher id = ID.matcher(line);
                Matcher execute = EXECUTE.matcher(line);
                Command command = new Command(line, execute.find() ? execute.group(1) : "", id.find() ? id.group(1) : "");
                if (command.execute().equals("qmp_capabilities")) {
                    connection.reply(command, "{}");
                } else {
                    script.accept(command, connection);
                }
            }
        } catch (IOException | RuntimeException e) {
            // the client went away or the script dropped the connection
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (SocketChannel c : clients) {
            c.close();
        }
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(socket);
    }
}
