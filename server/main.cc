// jobgroupd: the jobgroup server with the built-in job kinds.
#include "server/jobgroupd_main.h"

int main(int argc, char** argv) {
  return jobgroup::RunJobgroupd(argc, argv, nullptr);
}
