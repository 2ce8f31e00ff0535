// DevenvSecurity applies the local broker's SCRAM users and ACLs, read from
// standard input, through the Admin API: one JVM for all of them, where
// kafka-configs and kafka-acls would start one per user and per resource
// (ten JVMs, twenty seconds). hack/devenv.sh runs it as a single-file
// program (`java DevenvSecurity.java BOOTSTRAP`) once per data directory;
// both kinds of change are upserts, so running it again changes nothing.
//
// Input, one a line, blank lines and #-comments ignored:
//
//   user NAME PASSWORD                               a SCRAM-SHA-512 credential
//   allow NAME topic|group literal|prefixed RESOURCE OP[,OP...]
//
// PASSWORD may not contain white space.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class DevenvSecurity {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: java DevenvSecurity.java BOOTSTRAP < policy");
      System.exit(2);
    }
    List<UserScramCredentialAlteration> users = new ArrayList<>();
    List<AclBinding> acls = new ArrayList<>();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      line = line.strip();
      if (line.isEmpty() || line.startsWith("#")) continue;
      String[] f = line.split("\\s+");
      if (f[0].equals("user") && f.length == 3) {
        // 4096 iterations: Kafka's minimum for SCRAM-SHA-512.
        users.add(new UserScramCredentialUpsertion(f[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), f[2]));
      } else if (f[0].equals("allow") && f.length == 6) {
        ResourcePattern resource = new ResourcePattern(
            ResourceType.fromString(f[2]), f[4], PatternType.fromString(f[3].toUpperCase(java.util.Locale.ROOT)));
        for (String op : f[5].split(",")) {
          AclOperation operation = AclOperation.fromString(op);
          if (operation == AclOperation.UNKNOWN || resource.resourceType() == ResourceType.UNKNOWN
              || resource.patternType() == PatternType.UNKNOWN) {
            throw new IllegalArgumentException("cannot read policy line: " + line + " (" + resource + ", " + operation + ")");
          }
          acls.add(new AclBinding(resource, new AccessControlEntry("User:" + f[1], "*", operation, AclPermissionType.ALLOW)));
        }
      } else {
        throw new IllegalArgumentException("cannot read policy line: " + line);
      }
    }
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    // devenv.sh starts this with the broker: the Admin client retries until
    // the broker answers, within devenv.sh's own 90s wait for it.
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "90000");
    try (Admin admin = Admin.create(props)) {
      if (!users.isEmpty()) admin.alterUserScramCredentials(users).all().get(90, TimeUnit.SECONDS);
      if (!acls.isEmpty()) admin.createAcls(acls).all().get(90, TimeUnit.SECONDS);
    }
    System.out.printf("%d users, %d ACLs applied%n", users.size(), acls.size());
  }
}
