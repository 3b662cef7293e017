build/obj/lab/lab.o: src/lab/lab.c src/common/log.h src/common/util.h \
 src/lab/lab_int.h src/lab/lab.h
src/common/log.h:
src/common/util.h:
src/lab/lab_int.h:
src/lab/lab.h:
