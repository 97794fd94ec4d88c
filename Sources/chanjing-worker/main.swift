import ChanjingWorkerCLI

await ChanjingWorkerCommand.runFromCommandLine()
