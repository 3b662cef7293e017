build/obj/lab/run.o: src/lab/run.c src/common/util.h src/lab/lab_int.h \
 src/lab/lab.h
src/common/util.h:
src/lab/lab_int.h:
src/lab/lab.h:
