"""OPC UA address space of the synthesis robot, in the spirit of OPC UA LADS.

Layout under ``Objects`` (browse names, all in :data:`NAMESPACE_URI`)::

    SynthesisRobot                          device
      Identification/Manufacturer, Model, SerialNumber, ProtocolVersion
      DeviceState                           String: Ready | Error
      FunctionalUnitSet/SynthesisUnit       functional unit
        CurrentState                        String, a RobotState value
        LastError                           String, empty when none
        ProgramManager
          ActiveJobId                       String, empty when idle
          Progress                          Double, 0-100 %
          Start(JobId, RecipeJson)          -> ReplyJson   (submit; idempotent by JobId)
          AssembleCell(JobId, SampleId)     -> ReplyJson   (build a coin cell from a powder)
          GetJob(JobId)                     -> ReplyJson
          Stop(JobId)                       -> ReplyJson   (end early: cool down, keep what was made)
          Abort(JobId)                      -> ReplyJson   (end now, discard)
          Reset()                           -> ReplyJson   (clear the error state)
        Furnace/Temperature, SetPoint       Double, degrees Celsius
        Furnace/MinTemperature, MaxTemperature   Double, the interlock limits
        Inventory/<Precursor>               Double, grams left

String NodeIds are the dotted browse path (``ns=<idx>;s=SynthesisRobot.DeviceState``).
Every method returns the JSON envelope of :mod:`voltlab.protocol.envelope` as a String, so a
plain OPC UA client sees the refusal reason, not only a status code. Job state changes are also
published as ``JobStateChangedEvent`` events on ``SynthesisRobot``.
"""

from enum import StrEnum

NAMESPACE_URI = "urn:voltlab:simulated:synthesis-robot"
DEFAULT_ENDPOINT_PATH = "/voltlab/robot/"
APPLICATION_URI = "urn:voltlab:simulated:synthesis-robot:server"

DEVICE = "SynthesisRobot"
IDENTIFICATION = "Identification"
DEVICE_STATE = "DeviceState"
FUNCTIONAL_UNIT_SET = "FunctionalUnitSet"
FUNCTIONAL_UNIT = "SynthesisUnit"
CURRENT_STATE = "CurrentState"
LAST_ERROR = "LastError"
PROGRAM_MANAGER = "ProgramManager"
ACTIVE_JOB_ID = "ActiveJobId"
PROGRESS = "Progress"
FURNACE = "Furnace"
FURNACE_TEMPERATURE = "Temperature"
FURNACE_SETPOINT = "SetPoint"
FURNACE_MIN_TEMPERATURE = "MinTemperature"
FURNACE_MAX_TEMPERATURE = "MaxTemperature"
INVENTORY = "Inventory"
JOB_EVENT_TYPE = "JobStateChangedEvent"
JOB_EVENT_FIELDS = ("JobId", "JobState")


class RobotMethod(StrEnum):
    START = "Start"
    ASSEMBLE_CELL = "AssembleCell"
    GET_JOB = "GetJob"
    STOP = "Stop"
    ABORT = "Abort"
    RESET = "Reset"


class RobotState(StrEnum):
    """LADS-style functional unit states."""

    IDLE = "Idle"
    RUNNING = "Running"
    STOPPING = "Stopping"
    ABORTING = "Aborting"
    ERROR = "Error"


class Precursor(StrEnum):
    """Inventory items, in grams."""

    LITHIUM_CARBONATE = "Li2CO3"
    NICKEL_HYDROXIDE = "NiOH2"
    MANGANESE_HYDROXIDE = "MnOH2"
    COBALT_HYDROXIDE = "CoOH2"
    ALUMINIUM_OXIDE = "Al2O3"
    MAGNESIUM_OXIDE = "MgO"
    TITANIUM_OXIDE = "TiO2"


METHOD_ARGUMENTS: dict[RobotMethod, tuple[str, ...]] = {
    RobotMethod.START: ("JobId", "RecipeJson"),
    RobotMethod.ASSEMBLE_CELL: ("JobId", "SampleId"),
    RobotMethod.GET_JOB: ("JobId",),
    RobotMethod.STOP: ("JobId",),
    RobotMethod.ABORT: ("JobId",),
    RobotMethod.RESET: (),
}
"""Input arguments of each method, in order; all are Strings."""
REPLY_ARGUMENT = "ReplyJson"
"""The single output argument of every method: the JSON reply envelope."""
