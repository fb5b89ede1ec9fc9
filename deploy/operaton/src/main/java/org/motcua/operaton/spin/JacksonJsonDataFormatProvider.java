package org.motcua.operaton.spin;

import org.operaton.spin.spi.DataFormat;
import org.operaton.spin.spi.DataFormatProvider;

/**
 * Registers the {@code application/json} Spin data format (ServiceLoader, see META-INF/services).
 *
 * <p>Operaton's own {@code operaton-spin-dataformat-json-jackson} was not published to Maven Central for
 * 1.0.3 (only {@code operaton-spin-core} was), so this app carries a small Jackson-backed data format: it
 * gives the engine the {@code Json} variable type and JSON-serialized {@code Object} variables. JSONPath and
 * in-place tree edits from scripts are not supported (Motcua's BPMN has no scripts). Replace this package
 * with the official artifact once it is on Central.
 */
public class JacksonJsonDataFormatProvider implements DataFormatProvider {

  public static final String NAME = "application/json";

  @Override
  public String getDataFormatName() {
    return NAME;
  }

  @Override
  public DataFormat<?> createInstance() {
    return new JacksonJsonDataFormat();
  }
}
