# Sourced by the scripts: JVM flags Spark 3.5 and 4 need on Java 17 (from Spark's own build), the
# Vector API module for netlib's fast Java fallback, and one BLAS thread per Spark task.
SPARK_JAVA17_FLAGS="-XX:+IgnoreUnrecognizedVMOptions --add-modules=jdk.incubator.vector \
--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED \
--add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
--add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED \
--add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED \
--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
--add-opens=java.base/sun.nio.cs=ALL-UNNAMED --add-opens=java.base/sun.security.action=ALL-UNNAMED \
--add-opens=java.base/sun.util.calendar=ALL-UNNAMED -Djdk.reflect.useDirectMethodHandle=false"
# The Spark line the scripts build for and run on: CONVSPARK_SPARK=3.5 (default: Spark 3.5.9,
# Scala 2.12, the plain Maven build) or 4 (Spark 4.2.0, Scala 2.13, mvn -Pspark-4, built into each
# module's target/spark-4/). Sets CONVSPARK_SCALA (Scala binary version, the artifacts' suffix),
# CONVSPARK_MVN_PROFILE (Maven arguments) and CONVSPARK_BUILD_DIR (build directory under a module).
case "${CONVSPARK_SPARK:-3.5}" in
  3.5 | 3)
    CONVSPARK_SPARK=3.5 CONVSPARK_SCALA=2.12 CONVSPARK_MVN_PROFILE="" CONVSPARK_BUILD_DIR=target ;;
  4)
    CONVSPARK_SPARK=4 CONVSPARK_SCALA=2.13 CONVSPARK_MVN_PROFILE="-Pspark-4"
    CONVSPARK_BUILD_DIR=target/spark-4
    # what Spark 4.2's launcher adds (JavaModuleOptions), as the pom's spark.jvm.flags.line does
    SPARK_JAVA17_FLAGS="$SPARK_JAVA17_FLAGS --add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED \
-Dio.netty.tryReflectionSetAccessible=true -Dio.netty.allocator.type=pooled \
--sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED" ;;
  *)
    echo "CONVSPARK_SPARK=${CONVSPARK_SPARK}: expected 3.5 (Spark 3.5, Scala 2.12) or 4 (Spark 4, Scala 2.13)" >&2
    exit 2 ;;
esac
export CONVSPARK_SPARK CONVSPARK_SCALA CONVSPARK_MVN_PROFILE CONVSPARK_BUILD_DIR
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
# BLAS: convspark loads the OpenBLAS 0.3.31 shipped in its jar unless CONVSPARK_BLAS (or
# -Dconvspark.blas) says system or java; see convspark.common.blas.Blas. 0.3.31 recognises the
# CPUs of this project's machines by itself. Debian 12's OpenBLAS 0.3.21, used with
# CONVSPARK_BLAS=system, does not recognise recent Intel CPUs (e.g. family 6 model 207) and
# falls back to its pre-AVX "Prescott" kernels, about 4x slower: for that library only, on an
# AVX-512 Intel CPU whose environment does not already choose a kernel, choose SkylakeX. Any
# OPENBLAS_CORETYPE the environment sets is kept, whichever library (some machines set it on
# purpose, because older builds compute wrong results there), unless CONVSPARK_OPENBLAS_CORETYPE
# says otherwise (scripts/openblas-coretype.sh).
. "$(dirname "${BASH_SOURCE[0]}")/openblas-coretype.sh"
if [ "${CONVSPARK_BLAS:-bundled}" = system ] && [ -z "${OPENBLAS_CORETYPE:-}" ] \
   && grep -q GenuineIntel /proc/cpuinfo 2>/dev/null \
   && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
