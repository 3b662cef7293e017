build/obj/router/balance.o: src/router/balance.c src/router/balance.h \
 src/router/routes.h src/router/upstream.h src/router/worker.h \
 src/common/http1.h src/router/accesslog.h src/common/util.h \
 src/router/metrics.h
src/router/balance.h:
src/router/routes.h:
src/router/upstream.h:
src/router/worker.h:
src/common/http1.h:
src/router/accesslog.h:
src/common/util.h:
src/router/metrics.h:
