# Sourced by java-flags.sh, bench-kernel.sh and bench-resnet.sh: maps CONVSPARK_OPENBLAS_CORETYPE
# onto OPENBLAS_CORETYPE for the JVMs the calling script starts. Unset: the environment's
# OPENBLAS_CORETYPE, if any, applies. auto: OpenBLAS chooses from the CPU (OPENBLAS_CORETYPE is
# unset; the AMD EPYC Zen 5 machines set Haswell, and the bundled 0.3.31 chooses Cooperlake there:
# training 1.4-1.5x faster). A kernel name: that kernel. OpenBLAS reads OPENBLAS_CORETYPE once,
# when it loads, so this is settled before Java starts; the driver passes the choice to its
# executors (convspark.common.blas.OpenBlasKernel).
case "${CONVSPARK_OPENBLAS_CORETYPE:-}" in
  '') ;;
  [Aa][Uu][Tt][Oo]) unset OPENBLAS_CORETYPE ;;
  *[!A-Za-z0-9_]*)
    echo "CONVSPARK_OPENBLAS_CORETYPE='${CONVSPARK_OPENBLAS_CORETYPE}': expected auto or an OpenBLAS kernel name (Haswell, SkylakeX, Cooperlake, Zen, ...)" >&2
    exit 2 ;;
  *) export OPENBLAS_CORETYPE="$CONVSPARK_OPENBLAS_CORETYPE" ;;
esac
