package org.motcua.operaton.spin;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.util.regex.Pattern;
import org.operaton.spin.DeserializationTypeValidator;
import org.operaton.spin.json.SpinJsonNode;
import org.operaton.spin.spi.DataFormat;
import org.operaton.spin.spi.DataFormatMapper;
import org.operaton.spin.spi.DataFormatReader;
import org.operaton.spin.spi.DataFormatWriter;
import org.operaton.spin.spi.TextBasedDataFormatReader;

/** Jackson-backed Spin JSON data format (see {@link JacksonJsonDataFormatProvider}). */
public class JacksonJsonDataFormat implements DataFormat<SpinJsonNode> {

  private final ObjectMapper objectMapper = new ObjectMapper().findAndRegisterModules();

  private final DataFormatReader reader = new TextBasedDataFormatReader() {
    private final Pattern pattern = Pattern.compile("^\\s*[{\\[\"0-9tfn-]", Pattern.DOTALL);

    @Override
    protected Pattern getInputDetectionPattern() {
      return pattern;
    }

    @Override
    public Object readInput(Reader input) {
      try {
        return objectMapper.readTree(input);
      } catch (IOException e) {
        throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
      }
    }
  };

  private final DataFormatWriter writer = (Writer out, Object input) -> {
    try {
      objectMapper.writeValue(out, input);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  };

  private final DataFormatMapper mapper = new DataFormatMapper() {
    @Override
    public boolean canMap(Object parameter) {
      return parameter != null;
    }

    @Override
    public Object mapJavaToInternal(Object parameter) {
      return objectMapper.valueToTree(parameter);
    }

    @Override
    public <T> T mapInternalToJava(Object parameter, Class<T> type) {
      return mapInternalToJava(parameter, type, null);
    }

    @Override
    public <T> T mapInternalToJava(Object parameter, Class<T> type, DeserializationTypeValidator validator) {
      return convert(parameter, objectMapper.constructType(type), validator);
    }

    @Override
    public <T> T mapInternalToJava(Object parameter, String typeIdentifier) {
      return mapInternalToJava(parameter, typeIdentifier, null);
    }

    @Override
    public <T> T mapInternalToJava(Object parameter, String typeIdentifier, DeserializationTypeValidator validator) {
      return convert(parameter, objectMapper.getTypeFactory().constructFromCanonical(typeIdentifier), validator);
    }

    @Override
    public String getCanonicalTypeName(Object object) {
      return objectMapper.constructType(object.getClass()).toCanonical();
    }
  };

  private <T> T convert(Object parameter, JavaType type, DeserializationTypeValidator validator) {
    if (validator != null && !validator.validate(type.getRawClass().getName())) {
      throw new IllegalArgumentException("deserialization of type " + type.toCanonical() + " is not allowed");
    }
    try {
      return objectMapper.readerFor(type).readValue((JsonNode) parameter);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot map JSON to " + type.toCanonical() + ": " + e.getMessage(), e);
    }
  }

  ObjectMapper objectMapper() {
    return objectMapper;
  }

  @Override
  public String getName() {
    return JacksonJsonDataFormatProvider.NAME;
  }

  @Override
  public Class<? extends SpinJsonNode> getWrapperType() {
    return JacksonJsonNode.class;
  }

  @Override
  public SpinJsonNode createWrapperInstance(Object parameter) {
    return new JacksonJsonNode((JsonNode) parameter, this);
  }

  @Override
  public DataFormatReader getReader() {
    return reader;
  }

  @Override
  public DataFormatWriter getWriter() {
    return writer;
  }

  @Override
  public DataFormatMapper getMapper() {
    return mapper;
  }
}
