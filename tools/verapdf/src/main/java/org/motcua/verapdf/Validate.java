package org.motcua.verapdf;

import java.io.FileInputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.verapdf.gf.foundry.VeraGreenfieldFoundryProvider;
import org.verapdf.pdfa.Foundries;
import org.verapdf.pdfa.PDFAParser;
import org.verapdf.pdfa.PDFAValidator;
import org.verapdf.pdfa.flavours.PDFAFlavour;
import org.verapdf.pdfa.results.TestAssertion;
import org.verapdf.pdfa.results.ValidationResult;
import org.verapdf.pdfa.validation.profiles.RuleId;

/**
 * Validates PDF files against a PDF/A flavour (default 2b) with veraPDF and prints one JSON object per file, one
 * per line: {"file", "flavour", "compliant", "failed": [{"clause", "test", "specification", "description",
 * "count", "context"}]}. Exit code 0 when every file is compliant, 1 when one is not, 2 on a usage or parse error
 * (the line then carries "error").
 *
 * <p>Usage: java -jar motcua-verapdf.jar [--flavour 2b] file.pdf...
 */
public final class Validate {

  private Validate() {}

  public static void main(String[] args) {
    String flavourName = "2b";
    List<String> files = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if ("--flavour".equals(args[i]) && i + 1 < args.length) {
        flavourName = args[++i];
      } else {
        files.add(args[i]);
      }
    }
    if (files.isEmpty()) {
      System.err.println("usage: java -jar motcua-verapdf.jar [--flavour 2b] file.pdf...");
      System.exit(2);
    }
    VeraGreenfieldFoundryProvider.initialise();
    PDFAFlavour flavour = PDFAFlavour.fromString(flavourName);
    int exit = 0;
    for (String file : files) {
      StringBuilder out = new StringBuilder("{");
      field(out, "file", file).append(',');
      field(out, "flavour", flavour.getId()).append(',');
      try (InputStream in = new FileInputStream(file);
          PDFAParser parser = Foundries.defaultInstance().createParser(in, flavour);
          PDFAValidator validator = Foundries.defaultInstance().createValidator(flavour, false)) {
        ValidationResult result = validator.validate(parser);
        out.append("\"compliant\":").append(result.isCompliant()).append(",\"failed\":[");
        Map<RuleId, List<TestAssertion>> byRule = new LinkedHashMap<>();
        for (TestAssertion a : result.getTestAssertions()) {
          if (a.getStatus() == TestAssertion.Status.FAILED) {
            byRule.computeIfAbsent(a.getRuleId(), k -> new ArrayList<>()).add(a);
          }
        }
        boolean first = true;
        for (Map.Entry<RuleId, List<TestAssertion>> e : byRule.entrySet()) {
          RuleId rule = e.getKey();
          TestAssertion sample = e.getValue().get(0);
          out.append(first ? "{" : ",{");
          first = false;
          field(out, "clause", rule.getClause()).append(',');
          out.append("\"test\":").append(rule.getTestNumber()).append(',');
          field(out, "specification", String.valueOf(rule.getSpecification())).append(',');
          field(out, "description", sample.getMessage()).append(',');
          out.append("\"count\":").append(e.getValue().size()).append(',');
          field(out, "context", sample.getLocation() == null ? "" : sample.getLocation().getContext());
          out.append('}');
        }
        out.append("]}");
        if (!result.isCompliant()) {
          exit = Math.max(exit, 1);
        }
      } catch (Exception e) {
        out.append("\"compliant\":false,\"failed\":[],");
        field(out, "error", e.getClass().getName() + ": " + e.getMessage()).append('}');
        exit = 2;
      }
      System.out.println(out);
    }
    System.out.flush();
    System.exit(exit);
  }

  private static StringBuilder field(StringBuilder out, String name, String value) {
    out.append('"').append(name).append("\":\"");
    String v = value == null ? "" : value;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
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
    return out.append('"');
  }
}
