// Reads the hub's single-object records with Apache Avro for Java and the schemas/ files as they
// are: `java ReadRecords.java SCHEMA_DIR RECORD FILE...` parses the shared types' files first
// (Java's parser needs a type defined before it is named), then RECORD's file, and decodes each
// FILE with BinaryMessageDecoder (which checks the writer fingerprint), printing one JSON line
// per record. A failure exits non-zero with Avro's message.
import java.io.File;
import java.nio.file.Files;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;

public class ReadRecords {
    public static void main(String[] args) throws Exception {
        File folder = new File(args[0]);
        Schema.Parser parser = new Schema.Parser();
        File[] shared = folder.listFiles((dir, name) -> name.startsWith("org.") && name.endsWith(".avsc"));
        java.util.Arrays.sort(shared);
        for (File file : shared) {
            parser.parse(file);
        }
        Schema schema = parser.parse(new File(folder, args[1] + ".avsc"));
        BinaryMessageDecoder<GenericRecord> decoder = new BinaryMessageDecoder<>(GenericData.get(), schema);
        for (int i = 2; i < args.length; i++) {
            GenericRecord record = decoder.decode(Files.readAllBytes(new File(args[i]).toPath()));
            System.out.println(record);
        }
    }
}
