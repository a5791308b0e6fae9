package convspark.driver.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The known config key an unknown one was probably meant to be, for the error that refuses it:
 * a key of the same block written in another case or style ({@code globalBatch}, {@code
 * global_batch} for {@code global-batch}), or one or two letters off ({@code epoch} for {@code
 * epochs}); else a key of that name in another block ({@code train.normalize} for {@code
 * data.normalize}). None when nothing is that close: a guess far off would mislead more than
 * the list of known keys the error points to.
 */
public final class KeySuggestion {
  private KeySuggestion() {}

  /** The suggestion for {@code unknown} (a config path) among the keys of {@code known}. */
  static Optional<String> of(String unknown, Config known) {
    List<String> parts;
    try {
      parts = ConfigUtil.splitPath(unknown);
    } catch (RuntimeException e) {
      return Optional.empty();
    }
    String leaf = parts.get(parts.size() - 1);
    List<String> parent = parts.subList(0, parts.size() - 1);
    ConfigObject block = parent.isEmpty() ? known.root()
        : known.hasPath(ConfigUtil.joinPath(parent))
            && known.getValue(ConfigUtil.joinPath(parent)) instanceof ConfigObject o ? o : null;
    if (block != null) {
      String best = null;
      int bestDistance = Integer.MAX_VALUE;
      boolean tie = false;
      for (String k : block.keySet()) {
        int d = normal(k).equals(normal(leaf)) ? 0 : distance(k, leaf);
        if (d < bestDistance) {
          best = k;
          bestDistance = d;
          tie = false;
        } else if (d == bestDistance) {
          tie = true;
        }
      }
      // one letter off for short keys, two for longer ones; a tie is no suggestion
      int allowed = leaf.length() <= 4 ? 1 : 2;
      if (best != null && bestDistance <= allowed && !tie) {
        List<String> path = new ArrayList<>(parent);
        path.add(best);
        return Optional.of(ConfigUtil.joinPath(path));
      }
    }
    List<String> elsewhere = new ArrayList<>();
    collect(known.root(), new ArrayList<>(), normal(leaf), elsewhere);
    return elsewhere.size() == 1 ? Optional.of(elsewhere.get(0)) : Optional.empty();
  }

  /** Paths under {@code obj} whose last key, in normal form, is {@code leaf}. */
  private static void collect(ConfigObject obj, List<String> prefix, String leaf,
      List<String> found) {
    for (Map.Entry<String, ConfigValue> e : obj.entrySet()) {
      List<String> path = new ArrayList<>(prefix);
      path.add(e.getKey());
      if (normal(e.getKey()).equals(leaf)) {
        found.add(ConfigUtil.joinPath(path));
      }
      if (e.getValue() instanceof ConfigObject o) {
        collect(o, path, leaf, found);
      }
    }
  }

  /** Lower case without '-' and '_': global-batch, globalBatch and global_batch are one. */
  private static String normal(String key) {
    return key.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "");
  }

  /**
   * Whether {@code candidate} is close enough to {@code typed} to be suggested: one edit for
   * words of up to 4 letters, two for longer ones (the rule for keys, also for command names).
   */
  public static boolean close(String typed, String candidate) {
    return distance(typed, candidate) <= (typed.length() <= 4 ? 1 : 2);
  }

  /** Levenshtein distance (insertions, deletions, substitutions) of two keys. */
  public static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
