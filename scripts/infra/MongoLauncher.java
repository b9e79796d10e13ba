import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * Runs mongo-java-server (in-memory backend) on the given host and port for tests.
 * Prints "READY host:port" once bound; stops on SIGTERM or when stdin closes
 * (so it never outlives the process that started it). Exits 1 if it cannot bind.
 */
public final class MongoLauncher {
  public static void main(String[] args) throws Exception {
    String host = args.length > 0 ? args[0] : "127.0.0.1";
    int port = args.length > 1 ? Integer.parseInt(args[1]) : 27017;
    MongoServer server = new MongoServer(new MemoryBackend());
    try {
      server.bind(host, port);
    } catch (Exception e) {
      // Netty's event loop threads would keep the JVM alive after a failed bind: exit explicitly.
      System.err.println("cannot bind " + host + ":" + port + ": " + e);
      server.shutdownNow();
      System.exit(1);
    }
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
    System.out.println("READY " + host + ":" + port);
    System.out.flush();
    while (System.in.read() != -1) {
      // wait for the parent to close stdin
    }
    System.exit(0);
  }
}
