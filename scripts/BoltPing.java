// Used by scripts/neo4j to check that the local server answers a Bolt query.
// Reads the password from NEO4J_PASSWORD so it never appears in a process listing.
// Arguments: URI USER [CA_FILE]; with CA_FILE the connection is encrypted and trusts
// only certificates signed by that CA.
import java.io.File;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Config;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.driver.Session;

public class BoltPing {
    public static void main(String[] args) {
        Config config = args.length > 2
            ? Config.builder()
                .withEncryption()
                .withTrustStrategy(Config.TrustStrategy.trustCustomCertificateSignedBy(new File(args[2])))
                .build()
            : Config.defaultConfig();
        try (Driver driver = GraphDatabase.driver(args[0], AuthTokens.basic(args[1], System.getenv("NEO4J_PASSWORD")), config);
             Session session = driver.session()) {
            session.run("RETURN 1 AS ok").single();
        } catch (Exception e) {
            System.err.println(e.getMessage());
            System.exit(1);
        }
    }
}
