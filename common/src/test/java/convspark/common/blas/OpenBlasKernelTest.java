package convspark.common.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import org.junit.jupiter.api.Test;

/**
 * What convspark says about the OpenBLAS kernel that loaded, against what {@code
 * CONVSPARK_OPENBLAS_CORETYPE} and {@code OPENBLAS_CORETYPE} asked for, and which kernel the
 * driver hands its executors. (BlasTest loads the real library in fresh JVMs with these
 * settings.)
 */
class OpenBlasKernelTest {

  private static OpenBlasKernel.Check check(String setting, String env, String kernel,
      boolean avx512) {
    return OpenBlasKernel.check(setting, env, kernel, true, avx512);
  }

  @Test
  void nothingIsSaidWhenTheKernelIsTheOneAskedFor() {
    assertEquals(new OpenBlasKernel.Check("", ""), check(null, null, "Cooperlake", true));
    assertEquals(new OpenBlasKernel.Check("", ""), check("auto", "", "Cooperlake", true));
    assertEquals(new OpenBlasKernel.Check("", ""), check("haswell", "Haswell", "Haswell", true));
    // a kernel forced on a CPU without AVX-512 costs nothing worth a note
    assertEquals(new OpenBlasKernel.Check("", ""), check(null, "Haswell", "Haswell", false));
    // nor one that already uses AVX-512
    assertEquals(new OpenBlasKernel.Check("", ""), check(null, "SkylakeX", "SkylakeX", true));
    // a library that does not tell its kernel: nothing to compare
    assertEquals(new OpenBlasKernel.Check("", ""), check("auto", "Haswell", "", true));
  }

  @Test
  void anAvx2KernelForcedOnAnAvx512CpuGetsANoteNamingTheWayOut() {
    OpenBlasKernel.Check c = check(null, "Haswell", "Haswell", true);
    assertEquals("", c.warning());
    assertTrue(c.note().contains("OPENBLAS_CORETYPE=Haswell")
        && c.note().contains("CONVSPARK_OPENBLAS_CORETYPE=auto"), c.note());
    // about the bundled library only: an older system OpenBLAS may not know the CPU
    assertEquals(new OpenBlasKernel.Check("", ""),
        OpenBlasKernel.check(null, "Haswell", "Haswell", false, true));
  }

  @Test
  void autoWithTheEnvironmentStillForcingAKernelWarns() {
    OpenBlasKernel.Check c = check("auto", "Haswell", "Haswell", true);
    assertTrue(c.warning().startsWith("CONVSPARK_OPENBLAS_CORETYPE=auto, but "
        + "OPENBLAS_CORETYPE=Haswell in this JVM's environment chose kernel Haswell"),
        c.warning());
    assertTrue(c.warning().contains("unset it before Java starts"), c.warning());
    assertEquals("", c.note());
  }

  @Test
  void aNamedKernelThatDidNotLoadWarnsWithTheReason() {
    // the JVM's environment was not set from the setting (started outside the scripts)
    OpenBlasKernel.Check outside = check("SkylakeX", "Haswell", "Haswell", true);
    assertTrue(outside.warning().contains("CONVSPARK_OPENBLAS_CORETYPE=SkylakeX, but "
        + "OPENBLAS_CORETYPE=Haswell in this JVM's environment chose kernel Haswell"),
        outside.warning());
    OpenBlasKernel.Check unset = check("SkylakeX", null, "Cooperlake", true);
    assertTrue(unset.warning().contains("OPENBLAS_CORETYPE unset in this JVM's environment"),
        unset.warning());
    // it was set, and OpenBLAS chose another: a name it does not know, or a CPU that cannot
    OpenBlasKernel.Check unknown = check("Skylake", "Skylake", "Cooperlake", true);
    assertTrue(unknown.warning().contains("OpenBLAS runs kernel Cooperlake: 'Skylake' is not a "
        + "kernel of this OpenBLAS, or one this CPU cannot run"), unknown.warning());
    OpenBlasKernel.Check envOnly = check(null, "NoSuchCore", "Cooperlake", true);
    assertTrue(envOnly.warning().startsWith("OPENBLAS_CORETYPE=NoSuchCore, but OpenBLAS runs "
        + "kernel Cooperlake"), envOnly.warning());
  }

  @Test
  void executorsGetTheSettingElseTheDriversEnvironment() {
    assertEquals("", OpenBlasKernel.executorCoretype("auto", "Haswell"));
    assertEquals("", OpenBlasKernel.executorCoretype(" AUTO ", null));
    assertEquals("SkylakeX", OpenBlasKernel.executorCoretype("SkylakeX", "Haswell"));
    assertEquals("Haswell", OpenBlasKernel.executorCoretype(null, "Haswell"));
    assertEquals("Haswell", OpenBlasKernel.executorCoretype("", "Haswell"));
    assertNull(OpenBlasKernel.executorCoretype(null, null));
    assertNull(OpenBlasKernel.executorCoretype(" ", ""));
    BadInputException e = assertThrows(BadInputException.class,
        () -> OpenBlasKernel.executorCoretype("Haswell; rm -rf", null));
    assertEquals("CONVSPARK_OPENBLAS_CORETYPE='Haswell; rm -rf': expected auto or an OpenBLAS "
        + "kernel name (Haswell, SkylakeX, Cooperlake, Zen, ...)", e.getMessage());
  }

  @Test
  void avx512KernelsAreKnownByName() {
    assertTrue(OpenBlasKernel.isAvx512("SkylakeX"));
    assertTrue(OpenBlasKernel.isAvx512("cooperlake"));
    assertTrue(OpenBlasKernel.isAvx512("SapphireRapids"));
    assertFalse(OpenBlasKernel.isAvx512("Haswell"));
    assertFalse(OpenBlasKernel.isAvx512("Zen"));
  }
}
