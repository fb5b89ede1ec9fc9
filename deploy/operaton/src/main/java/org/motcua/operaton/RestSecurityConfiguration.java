package org.motcua.operaton;

import jakarta.servlet.Filter;
import org.operaton.bpm.engine.rest.security.auth.ProcessEngineAuthenticationFilter;
import org.operaton.bpm.engine.rest.security.auth.impl.HttpBasicAuthenticationProvider;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.util.StringUtils;

/**
 * The REST API requires HTTP Basic authentication against the engine's identity service (Operaton's own
 * authentication filter, as in the distributions' web.xml). Only {@code GET /engine-rest/engine} (the list of
 * engines) stays open, by Operaton's design; everything else answers 401 without valid credentials.
 */
@Configuration
public class RestSecurityConfiguration {

  @Bean
  public FilterRegistrationBean<Filter> restAuthenticationFilter(
      @Value("${spring.jersey.application-path:/engine-rest}") String restPath) {
    FilterRegistrationBean<Filter> registration = new FilterRegistrationBean<>(new ProcessEngineAuthenticationFilter());
    registration.setName("operaton-rest-auth");
    registration.addInitParameter(
        ProcessEngineAuthenticationFilter.AUTHENTICATION_PROVIDER_PARAM, HttpBasicAuthenticationProvider.class.getName());
    String path = restPath.endsWith("/") ? restPath.substring(0, restPath.length() - 1) : restPath;
    registration.addUrlPatterns(path + "/*");
    registration.setAsyncSupported(true);
    return registration;
  }

  /** No default admin password outside the {@code dev} profile: refuse to start with an empty one. */
  @Bean
  public Object adminPasswordGuard(
      @Value("${operaton.bpm.admin-user.id:}") String adminId,
      @Value("${operaton.bpm.admin-user.password:}") String adminPassword) {
    if (!StringUtils.hasText(adminId) || !StringUtils.hasText(adminPassword)) {
      throw new IllegalStateException(
          "OPERATON_ADMIN_USER and OPERATON_ADMIN_PASSWORD must be set (or run with SPRING_PROFILES_ACTIVE=dev)");
    }
    return new Object();
  }
}
