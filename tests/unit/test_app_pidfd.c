/*
 * test_app_pidfd.c — sup_app_pidfd, which `cx exec` enters a process
 * through: it holds the app's own process (a child of its cx-init), refuses
 * a recorded pid that another process holds now, and one whose app was
 * reaped or whose cx-init said it exited. Real processes: this test forks a
 * stand-in cx-init, which forks the stand-in app.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/util.h"
#include "rackd/rack.h"
#include "rackd/supervisor.h"

/* A stand-in cx-init: forks the app (which sleeps), tells its pid on fd,
 * and reaps it when it dies, then waits for SIGTERM. */
static pid_t
start_init(pid_t *app)
{
	int fds[2];
	pid_t init;

	assert_int_equal(pipe(fds), 0);
	if ((init = fork()) == 0) {
		pid_t child = fork();

		if (child == 0) {
			pause();
			_exit(0);
		}
		if (write(fds[1], &child, sizeof(child)) != sizeof(child))
			_exit(1);
		waitpid(child, NULL, 0);
		pause();
		_exit(0);
	}
	assert_true(init > 0);
	assert_int_equal(read(fds[0], app, sizeof(*app)), (ssize_t)sizeof(*app));
	close(fds[0]);
	close(fds[1]);
	return init;
}

static void
stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void
contained(struct proc *p, pid_t init, pid_t app)
{
	memset(p, 0, sizeof(*p));
	p->contained = true;
	p->st.pid = init;
	p->st.pid_start = sup_pid_starttime(init);
	p->app_pid = app;
	p->app_status = -1;
}

static void
holds_the_app(void **state)
{
	struct proc p;
	pid_t app, init = start_init(&app), got = 0;
	char err[256];
	int fd;

	(void)state;
	contained(&p, init, app);
	fd = sup_app_pidfd(&p, &got, err, sizeof(err));
	assert_true(fd >= 0);
	assert_int_equal(got, app);
	assert_true(pidfd_alive(fd));
	/* The app dies and its cx-init reaps it: the descriptor says so. */
	kill(app, SIGKILL);
	for (int i = 0; i < 200 && pidfd_alive(fd); i++)
		usleep(10000);
	assert_false(pidfd_alive(fd));
	close(fd);
	/* Asked again, its pid is gone: refused. */
	assert_int_equal(sup_app_pidfd(&p, &got, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exited"));
	stop(init);
}

static void
refuses_another_process(void **state)
{
	struct proc p;
	pid_t app, init = start_init(&app), got = 0;
	char err[256];

	(void)state;
	/* A recorded pid that names a live process which is not the child of
	 * this cx-init (as when the app's pid was freed and taken): refused. */
	contained(&p, init, getpid());
	assert_int_equal(sup_app_pidfd(&p, &got, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has exited"));
	/* Not contained: st.pid with another start time is another process. */
	memset(&p, 0, sizeof(p));
	p.st.pid = init;
	p.st.pid_start = sup_pid_starttime(init) + 1;
	p.app_status = -1;
	assert_int_equal(sup_app_pidfd(&p, &got, err, sizeof(err)), -1);
	p.st.pid_start = sup_pid_starttime(init);
	got = 0;
	{
		int fd = sup_app_pidfd(&p, &got, err, sizeof(err));

		assert_true(fd >= 0);
		assert_int_equal(got, init);
		close(fd);
	}
	stop(app);
	stop(init);
}

static void
refuses_once_told_it_exited(void **state)
{
	struct proc p;
	pid_t app, init = start_init(&app), got = 0;
	char err[256];

	(void)state;
	contained(&p, init, app);
	p.app_status = 0;	/* cx-init told its status: it was reaped */
	assert_int_equal(sup_app_pidfd(&p, &got, err, sizeof(err)), -1);
	assert_string_equal(err, "its process has exited");
	stop(app);
	stop(init);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(holds_the_app),
		cmocka_unit_test(refuses_another_process),
		cmocka_unit_test(refuses_once_told_it_exited),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
