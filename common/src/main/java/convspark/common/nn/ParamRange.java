package convspark.common.nn;

import java.io.Serializable;

/** A slice [offset, offset+length) of the flat parameter vector. */
public record ParamRange(int offset, int length) implements Serializable {}
