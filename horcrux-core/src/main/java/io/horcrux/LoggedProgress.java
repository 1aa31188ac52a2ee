package io.horcrux;

import io.horcrux.model.Progress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The caller's progress listener, and the log: each event at DEBUG, and at INFO when a task on a
 * disk passes a quarter (0, 25, 50, 75, 100 %). A listener that throws is logged, never the
 * work's failure.
 */
final class LoggedProgress implements ProgressListener {
    private static final Logger log = LoggerFactory.getLogger(VmManager.class);

    private final ProgressListener listener;
    private final Map<String, Integer> quarters = new ConcurrentHashMap<>();

    LoggedProgress(ProgressListener listener) {
        this.listener = listener;
    }

    @Override
    public void onProgress(Progress progress) {
        int quarter = (int) (progress.percent() / 25);
        String key = progress.vmId() + '/' + progress.task() + '/' + progress.disk();
        Integer before = quarters.put(key, quarter);
        if (before == null || quarter > before) {
            log.info("VM {}: {} of disk '{}' at {}%", progress.vmId(), progress.task(), progress.disk(),
                    Math.round(progress.percent()));
        } else {
            log.debug("VM {}: {} of disk '{}' at {}%", progress.vmId(), progress.task(), progress.disk(), progress.percent());
        }
        try {
            listener.onProgress(progress);
        } catch (RuntimeException e) {
            log.warn("VM {}: the progress listener threw", progress.vmId(), e);
        }
    }
}
