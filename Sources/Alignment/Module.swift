// Reward model (Bradley-Terry), PPO with a KL penalty, DPO.
// (Module placeholder: the module's files replace this one as they land.)
