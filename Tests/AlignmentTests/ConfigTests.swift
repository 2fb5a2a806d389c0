import Foundation
import XCTest
@testable import Alignment

final class ConfigTests: XCTestCase {
    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    func testPPODefaultsAreTRLs() throws {
        let c = try decode(PPOConfig.self, "{}")
        XCTAssertEqual(c, PPOConfig())
        XCTAssertEqual(c.klCoef, 0.05); XCTAssertEqual(c.cliprange, 0.2); XCTAssertEqual(c.cliprangeValue, 0.2)
        XCTAssertEqual(c.vfCoef, 0.1); XCTAssertEqual(c.gamma, 1); XCTAssertEqual(c.lam, 0.95)
        XCTAssertEqual(c.numPpoEpochs, 4); XCTAssertEqual(c.numMiniBatches, 1); XCTAssertFalse(c.whitenRewards)
        XCTAssertEqual(c.temperature, 0.7); XCTAssertEqual(c.responseLength, 53); XCTAssertNil(c.missingEosPenalty)
        XCTAssertEqual(c.klEstimator, .k1)
        XCTAssertEqual(c.klController, .fixed(value: 0.05))
    }

    func testPPODecodesTRLFieldNames() throws {
        let c = try decode(PPOConfig.self, """
            {"kl_coef": 0.2, "kl_estimator": "k3", "adap_kl_ctrl": true, "target": 3, "horizon": 500,
             "cliprange_value": 0.3, "vf_coef": 0.5, "num_ppo_epochs": 2, "num_mini_batches": 4,
             "whiten_rewards": true, "missing_eos_penalty": 1.0, "response_length": 64, "temperature": 0.9}
            """)
        XCTAssertEqual(c.klEstimator, .k3)
        XCTAssertEqual(c.klController, .adaptive(value: 0.2, target: 3, horizon: 500))
        XCTAssertEqual(c.cliprangeValue, 0.3); XCTAssertEqual(c.vfCoef, 0.5); XCTAssertEqual(c.numPpoEpochs, 2)
        XCTAssertEqual(c.numMiniBatches, 4); XCTAssertTrue(c.whitenRewards); XCTAssertEqual(c.missingEosPenalty, 1)
        XCTAssertEqual(c.rolloutBatchSize, 32)
        let back = try JSONDecoder().decode(PPOConfig.self, from: JSONEncoder().encode(c))
        XCTAssertEqual(back, c)
    }

    func testUnknownAndOutOfRangeKeysAreNamed() {
        XCTAssertThrowsError(try decode(PPOConfig.self, #"{"kl_coeff": 0.1}"#)) { e in
            guard case let .invalidConfiguration(field, _)? = e as? AlignmentError else { return XCTFail("\(e)") }
            XCTAssertEqual(field, "ppo.kl_coeff")
        }
        XCTAssertThrowsError(try decode(PPOConfig.self, #"{"lam": 1.5}"#)) { e in
            guard case let .invalidConfiguration(field, _)? = e as? AlignmentError else { return XCTFail("\(e)") }
            XCTAssertEqual(field, "ppo.lam")
        }
        XCTAssertThrowsError(try decode(PPOConfig.self, #"{"kl_estimator": "k9"}"#))
        XCTAssertThrowsError(try decode(DPOConfig.self, #"{"loss_type": "ipo"}"#))
        XCTAssertThrowsError(try decode(RewardConfig.self, #"{"center_rewards_coef": 0.01}"#))
    }

    func testRewardAndDPODefaults() throws {
        let r = try decode(RewardConfig.self, #"{"center_rewards_coefficient": 0.01}"#)
        XCTAssertEqual(r.centerRewardsCoefficient, 0.01); XCTAssertEqual(r.maxLength, 1024)
        let d = try decode(DPOConfig.self, "{}")
        XCTAssertEqual(d.beta, 0.1); XCTAssertEqual(d.labelSmoothing, 0); XCTAssertEqual(d.lossType, "sigmoid")
        XCTAssertTrue(d.precomputeRefLogProbs)
    }
}
