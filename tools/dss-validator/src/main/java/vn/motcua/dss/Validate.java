package vn.motcua.dss;

import eu.europa.esig.dss.diagnostic.CertificateWrapper;
import eu.europa.esig.dss.diagnostic.DiagnosticData;
import eu.europa.esig.dss.diagnostic.PDFRevisionWrapper;
import eu.europa.esig.dss.diagnostic.SignatureWrapper;
import eu.europa.esig.dss.diagnostic.TimestampWrapper;
import eu.europa.esig.dss.enumerations.Indication;
import eu.europa.esig.dss.enumerations.SignatureLevel;
import eu.europa.esig.dss.enumerations.SubIndication;
import eu.europa.esig.dss.jaxb.object.Message;
import eu.europa.esig.dss.model.FileDocument;
import eu.europa.esig.dss.model.x509.CertificateToken;
import eu.europa.esig.dss.service.crl.OnlineCRLSource;
import eu.europa.esig.dss.service.ocsp.OnlineOCSPSource;
import eu.europa.esig.dss.simplereport.SimpleReport;
import eu.europa.esig.dss.simplereport.jaxb.XmlMessage;
import eu.europa.esig.dss.simplereport.jaxb.XmlTimestamp;
import eu.europa.esig.dss.spi.validation.CommonCertificateVerifier;
import eu.europa.esig.dss.spi.x509.CommonTrustedCertificateSource;
import eu.europa.esig.dss.spi.x509.aia.DefaultAIASource;
import eu.europa.esig.dss.validation.SignedDocumentValidator;
import eu.europa.esig.dss.validation.reports.Reports;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Validates signed PDFs with the EU's DSS library (ETSI EN 319 102-1), trusting only the roots given.
 *
 * <pre>java -jar dss-validator.jar FILE.pdf [FILE2.pdf ...] --trust ROOT.pem [--trust TSA_ROOT.pem ...]
 *     [--offline] [--reports DIR]</pre>
 *
 * <p>Prints one JSON object per line: per file a {@code "document"} line, then one per signature and one per
 * timestamp, with DSS's indication, sub-indication, level, best signature time, signer and messages.
 * {@code --offline} uses only what is in the file (no CRL, OCSP or AIA fetching): what an auditor who has
 * nothing but the file and the roots gets. {@code --reports DIR} also writes DSS's simple and detailed reports
 * and diagnostic data as XML, per file. Several files share one JVM (DSS takes seconds to start).
 *
 * <p>Exit 0 when every signature and timestamp of every file is TOTAL_PASSED (and there is at least one
 * signature), 1 otherwise, 2 for a usage error or an unreadable file or root.
 */
public final class Validate {

    private Validate() {}

    public static void main(String[] args) {
        List<Path> files = new ArrayList<>();
        List<Path> roots = new ArrayList<>();
        boolean offline = false;
        Path reports = null;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (arg.equals("--trust") && i + 1 < args.length) {
                roots.add(Path.of(args[++i]));
            } else if (arg.equals("--reports") && i + 1 < args.length) {
                reports = Path.of(args[++i]);
            } else if (arg.equals("--offline")) {
                offline = true;
            } else if (arg.startsWith("--")) {
                usage("unknown option " + arg);
            } else {
                files.add(Path.of(arg));
            }
        }
        if (files.isEmpty() || roots.isEmpty()) {
            usage("a file and at least one --trust root are needed");
        }
        boolean allPassed = true;
        try {
            CommonCertificateVerifier verifier = verifier(roots, offline);
            for (Path file : files) {
                allPassed &= validate(file, verifier, reports);
            }
        } catch (IOException | CertificateException | RuntimeException | LinkageError e) {
            System.err.println("dss-validator: " + e);
            if (System.getenv("DSS_VALIDATOR_DEBUG") != null) {
                e.printStackTrace();
            }
            System.exit(2);
        }
        System.exit(allPassed ? 0 : 1);
    }

    private static void usage(String why) {
        System.err.println("dss-validator: " + why);
        System.err.println(
                "usage: java -jar dss-validator.jar FILE.pdf [FILE.pdf ...] --trust ROOT.pem [--trust ROOT.pem ...]"
                        + " [--offline] [--reports DIR]");
        System.exit(2);
    }

    /** Trust only the given roots; offline: no revocation or certificate fetching at all. */
    static CommonCertificateVerifier verifier(List<Path> roots, boolean offline)
            throws IOException, CertificateException {
        CommonTrustedCertificateSource trusted = new CommonTrustedCertificateSource();
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        for (Path root : roots) {
            try (InputStream in = Files.newInputStream(root)) {
                for (Certificate cert : factory.generateCertificates(in)) {
                    trusted.addCertificate(new CertificateToken((X509Certificate) cert));
                }
            }
        }
        CommonCertificateVerifier verifier = new CommonCertificateVerifier();
        verifier.setTrustedCertSources(trusted);
        if (offline) {
            verifier.setAIASource(null);
            verifier.setCrlSource(null);
            verifier.setOcspSource(null);
        } else {
            verifier.setAIASource(new DefaultAIASource());
            verifier.setCrlSource(new OnlineCRLSource());
            verifier.setOcspSource(new OnlineOCSPSource());
        }
        return verifier;
    }

    /** Prints the file's lines; true when everything in it passed. */
    static boolean validate(Path file, CommonCertificateVerifier verifier, Path reportsDir) throws IOException {
        SignedDocumentValidator validator = SignedDocumentValidator.fromDocument(new FileDocument(file.toFile()));
        validator.setCertificateVerifier(verifier);
        Reports reports = validator.validateDocument();
        SimpleReport simple = reports.getSimpleReport();
        DiagnosticData diagnostic = reports.getDiagnosticData();
        String name = file.toString();

        List<String> signatureIds = simple.getSignatureIdList();
        Set<String> timestampIds = new LinkedHashSet<>();
        Map<String, XmlTimestamp> timestamps = new LinkedHashMap<>();
        for (String id : signatureIds) {
            for (XmlTimestamp ts : simple.getSignatureTimestamps(id)) {
                timestamps.putIfAbsent(ts.getId(), ts);
            }
        }
        timestampIds.addAll(timestamps.keySet());
        timestampIds.addAll(simple.getTimestampIdList());

        Map<String, Object> document = new LinkedHashMap<>();
        document.put("file", name);
        document.put("kind", "document");
        document.put("signatures", signatureIds.size());
        document.put("timestamps", timestampIds.size());
        document.put("validation_time", iso(simple.getValidationTime()));
        print(document);

        boolean passed = !signatureIds.isEmpty();
        for (String id : signatureIds) {
            SignatureWrapper signature = diagnostic.getSignatureById(id);
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("file", name);
            line.put("kind", "signature");
            line.put("id", id);
            line.put("field", field(signature == null ? null : signature.getPDFRevision()));
            Indication indication = simple.getIndication(id);
            line.put("indication", text(indication));
            line.put("sub_indication", text(simple.getSubIndication(id)));
            SignatureLevel level = simple.getSignatureFormat(id);
            line.put("level", level == null ? null : level.name());
            line.put("best_signature_time", iso(simple.getBestSignatureTime(id)));
            line.put("signing_time", iso(simple.getSigningTime(id)));
            line.put("signer", subject(signature == null ? null : signature.getSigningCertificate()));
            line.put("signed_by", simple.getSignedBy(id));
            line.put("timestamps", idsOf(simple.getSignatureTimestamps(id)));
            line.put("errors", messages(simple.getAdESValidationErrors(id)));
            line.put("warnings", messages(simple.getAdESValidationWarnings(id)));
            line.put("infos", messages(simple.getAdESValidationInfo(id)));
            print(line);
            passed &= indication == Indication.TOTAL_PASSED;
        }
        for (String id : timestampIds) {
            TimestampWrapper wrapper = diagnostic.getTimestampById(id);
            XmlTimestamp ts = timestamps.get(id);
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("file", name);
            line.put("kind", "timestamp");
            line.put("id", id);
            line.put("type", wrapper == null || wrapper.getType() == null ? null : wrapper.getType().name());
            line.put("field", field(wrapper == null ? null : wrapper.getPDFRevision()));
            Indication indication = ts != null ? ts.getIndication() : simple.getIndication(id);
            SubIndication sub = ts != null ? ts.getSubIndication() : simple.getSubIndication(id);
            line.put("indication", text(indication));
            line.put("sub_indication", text(sub));
            line.put("production_time", iso(ts != null ? ts.getProductionTime() : simple.getProductionTime(id)));
            line.put("signer", subject(wrapper == null ? null : wrapper.getSigningCertificate()));
            line.put("produced_by", ts != null ? ts.getProducedBy() : simple.getProducedBy(id));
            if (ts != null && ts.getAdESValidationDetails() != null) {
                line.put("errors", xmlMessages(ts.getAdESValidationDetails().getError()));
                line.put("warnings", xmlMessages(ts.getAdESValidationDetails().getWarning()));
                line.put("infos", xmlMessages(ts.getAdESValidationDetails().getInfo()));
            } else {
                line.put("errors", messages(simple.getAdESValidationErrors(id)));
                line.put("warnings", messages(simple.getAdESValidationWarnings(id)));
                line.put("infos", messages(simple.getAdESValidationInfo(id)));
            }
            print(line);
            passed &= indication == Indication.TOTAL_PASSED || indication == Indication.PASSED;
        }
        if (reportsDir != null) {
            Files.createDirectories(reportsDir);
            String stem = file.getFileName().toString().replaceAll("\\.pdf$", "");
            write(reportsDir.resolve(stem + ".simple-report.xml"), reports.getXmlSimpleReport());
            write(reportsDir.resolve(stem + ".detailed-report.xml"), reports.getXmlDetailedReport());
            write(reportsDir.resolve(stem + ".diagnostic-data.xml"), reports.getXmlDiagnosticData());
        }
        return passed;
    }

    private static void write(Path path, String xml) throws IOException {
        Files.writeString(path, xml, StandardCharsets.UTF_8);
    }

    private static String field(PDFRevisionWrapper revision) {
        if (revision == null || revision.getSignatureFieldNames().isEmpty()) {
            return null;
        }
        return revision.getSignatureFieldNames().get(0);
    }

    private static String subject(CertificateWrapper cert) {
        return cert == null ? null : cert.getCertificateDN();
    }

    private static String text(Enum<?> value) {
        return value == null ? null : value.name();
    }

    private static String iso(Date date) {
        return date == null ? null : Instant.ofEpochMilli(date.getTime()).toString();
    }

    private static List<Object> idsOf(List<XmlTimestamp> list) {
        List<Object> ids = new ArrayList<>();
        for (XmlTimestamp ts : list) {
            ids.add(ts.getId());
        }
        return ids;
    }

    private static List<Object> messages(List<Message> list) {
        List<Object> out = new ArrayList<>();
        for (Message m : list) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("key", m.getKey());
            entry.put("message", m.getValue());
            out.add(entry);
        }
        return out;
    }

    private static List<Object> xmlMessages(List<XmlMessage> list) {
        List<Object> out = new ArrayList<>();
        for (XmlMessage m : list) {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("key", m.getKey());
            entry.put("message", m.getValue());
            out.add(entry);
        }
        return out;
    }

    // ------------------------------------------------------------------ a small JSON writer (no extra library)

    private static void print(Map<String, Object> object) {
        StringBuilder out = new StringBuilder();
        json(out, object);
        System.out.println(out);
        System.out.flush();
    }

    @SuppressWarnings("unchecked")
    private static void json(StringBuilder out, Object value) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof Number || value instanceof Boolean) {
            out.append(value);
        } else if (value instanceof Map) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : ((Map<String, Object>) value).entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                string(out, e.getKey());
                out.append(':');
                json(out, e.getValue());
            }
            out.append('}');
        } else if (value instanceof List) {
            out.append('[');
            boolean first = true;
            for (Object item : (List<Object>) value) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                json(out, item);
            }
            out.append(']');
        } else {
            string(out, value.toString());
        }
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
