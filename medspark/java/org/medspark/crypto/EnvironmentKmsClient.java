package org.medspark.crypto;

import java.util.Base64;
import java.util.Locale;

import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.LocalWrapKmsClient;

/**
 * Parquet modular encryption master keys from the environment.
 *
 * <p>The master key named K is the base64 of a 16, 24 or 32 byte AES key in the environment
 * variable MEDSPARK_PARQUET_KEY_K (K upper-cased). Data keys are generated per file and wrapped
 * locally with the master key, so only whoever holds the variable can read the columns.
 */
public class EnvironmentKmsClient extends LocalWrapKmsClient {
  public static final String PREFIX = "MEDSPARK_PARQUET_KEY_";

  @Override
  protected byte[] getMasterKeyFromServer(String masterKeyIdentifier)
      throws KeyAccessDeniedException {
    String name = PREFIX + masterKeyIdentifier.toUpperCase(Locale.ROOT);
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) {
      throw new KeyAccessDeniedException("master key " + masterKeyIdentifier + " is not set in " + name);
    }
    byte[] key = Base64.getDecoder().decode(value.trim());
    if (key.length != 16 && key.length != 24 && key.length != 32) {
      throw new KeyAccessDeniedException("master key " + masterKeyIdentifier + " must be 16, 24 or 32 bytes");
    }
    return key;
  }

  @Override
  protected void initializeInternal() {}
}
