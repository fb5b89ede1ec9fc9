package org.motcua.operaton;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** Operaton engine for Motcua: REST API at /engine-rest (HTTP Basic), web apps at /operaton/app/. */
@SpringBootApplication
public class MotcuaOperatonApplication {

  public static void main(String[] args) {
    SpringApplication.run(MotcuaOperatonApplication.class, args);
  }
}
